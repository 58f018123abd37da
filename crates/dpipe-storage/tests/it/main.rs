//! dpipe-storage's integration tests: the storage behaviour suite ([`suite`]) run against every
//! protocol, each against a real server on 127.0.0.1 ([`backends`]): a local folder, s3s-fs
//! (S3), `dpipe serve`'s built-in object store (S3, with keys minted for a managed pipe),
//! sshd (SFTP) and vsftpd (FTP), and moto (S3 holding any key, for the planted keys no folder
//! can hold; its signature check fails on quotes in a path, so `ugly_names` is not run there);
//! S3's refusal of bytes changed on the way ([`corruption`]); and storage that is itself
//! wrong — a missing bucket or folder, refused credentials, nothing listening — reported in one
//! line ([`storage_errors`]).

mod backends;
mod corruption;
/// The CLI tests' proxy in front of moto, shared rather than copied.
#[path = "../../../dpipe-cli/tests/it/moto_proxy.rs"]
mod moto_proxy;
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
    sftp: [round_trip_sizes, big_file, ugly_names, scan_nested, missing_objects, delete, unsafe_keys_reported, wrong_credentials, stale_listing_and_changed_source, scan_folders_is_shallow];
    ftp: [round_trip_sizes, big_file, ugly_names, scan_nested, missing_objects, delete, unsafe_keys_reported, wrong_credentials, stale_listing_and_changed_source, scan_folders_is_shallow];
}

/// sftp: the system's ssh client takes no password from a program: a clear error, not a hang.
#[test]
fn sftp_password_is_a_clear_unsupported_error() {
    use dpipe_storage::{ErrorKind, Location, Protocol, Storage, Tuning};
    let location = Location::new(Protocol::Sftp, "127.0.0.1:22", "")
        .credential("username", "u")
        .credential("password", "secret-password");
    let err = Storage::connect(&location, Tuning::default()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
    assert!(!err.to_string().contains("secret-password"));
    assert!(
        !format!("{location:?}").contains("secret-password"),
        "Debug shows no secret"
    );
}
