//! dpipe-storage's integration tests: the storage behaviour suite ([`suite`]) run against every
//! protocol, each against a real server on 127.0.0.1 ([`backends`]): a local folder, s3s-fs
//! (S3), `dpipe serve`'s built-in object store (S3, with keys minted for a managed pipe),
//! sshd (SFTP) and vsftpd (FTP), and moto (S3 holding any key, for the planted keys no folder
//! can hold; its signature check fails on quotes in a path, so `ugly_names` is not run there);
//! S3's refusal of bytes changed on the way ([`corruption`]); and storage that is itself
//! wrong — a missing bucket or folder, refused credentials, nothing listening — reported in one
//! line ([`storage_errors`]).
//! FTPS is a backend of the suite too; what only TLS does is in [`ftps_tls`].

mod backends;
mod corruption;
/// What only FTPS does (the module `ftps` is its row of the suite).
#[path = "ftps.rs"]
mod ftps_tls;
mod leftovers;
/// The CLI tests' proxy in front of moto, shared rather than copied.
#[path = "../../../dpipe-cli/tests/it/moto_proxy.rs"]
mod moto_proxy;
mod resume_get;
mod resume_put;
mod sftp_auth;
mod storage_errors;
mod suite;

/// Generates one test per (backend, case): `storage_suite!(backend: case, case, ...)`.
macro_rules! storage_suite {
    ($($backend:ident: [$($case:ident),* $(,)?]);* $(;)?) => {
        $(
            mod $backend {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $case() {
                        let backend = crate::backends::$backend();
                        crate::suite::$case(&backend).await;
                    }
                )*
            }
        )*
    };
}

storage_suite! {
    fs: [round_trip_sizes, big_file, ugly_names, scan_nested, missing_objects, delete, unsafe_keys_reported, own_temp_files_and_hash, stale_listing_and_changed_source, scan_folders_is_shallow, staged_in_batches];
    moto: [planted_keys_reported_once, scan_nested, delete, scan_folders_is_shallow];
    s3: [round_trip_sizes, big_file, ugly_names, scan_nested, missing_objects, delete, unsafe_keys_reported, wrong_credentials, own_temp_files_and_hash, stale_listing_and_changed_source, scan_folders_is_shallow, staged_in_batches];
    builtin: [round_trip_sizes, big_file, ugly_names, scan_nested, missing_objects, delete, wrong_credentials, stale_listing_and_changed_source, scan_folders_is_shallow, staged_in_batches];
    sftp_password: [round_trip_sizes, big_file, ugly_names, scan_nested, missing_objects, delete, unsafe_keys_reported, wrong_credentials, own_temp_files_and_hash, stale_listing_and_changed_source, scan_folders_is_shallow, staged_in_batches];
    sftp_key: [round_trip_sizes, big_file, ugly_names, scan_nested, missing_objects, delete, unsafe_keys_reported, wrong_credentials, own_temp_files_and_hash, stale_listing_and_changed_source, scan_folders_is_shallow, staged_in_batches];
    ftp: [round_trip_sizes, big_file, ugly_names, scan_nested, missing_objects, delete, unsafe_keys_reported, wrong_credentials, stale_listing_and_changed_source, scan_folders_is_shallow];
    // Not `missing_objects`: OpenDAL's FTP client opens the data connection's TLS before it
    // reads the server's answer to RETR, so a get of a missing file waits for a handshake
    // vsftpd never makes (an I/O timeout, not "not found").
    ftps: [round_trip_sizes, big_file, ugly_names, scan_nested, delete, unsafe_keys_reported, wrong_credentials, stale_listing_and_changed_source, scan_folders_is_shallow];
}
