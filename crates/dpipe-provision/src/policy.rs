//! IAM policy documents: the least-privilege inline policies of the read and write users of a
//! bucket, and the policy the admin session itself needs (published in
//! `docs/s3-provisioning.md`, checked against this module by the tests).

use serde::Serialize;

use crate::names::PREFIX;

/// An IAM policy document. Serializes to the JSON that IAM accepts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyDocument {
    version: &'static str,
    statement: Vec<Statement>,
}

/// One `Allow` statement of a [`PolicyDocument`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
struct Statement {
    sid: &'static str,
    effect: &'static str,
    action: Vec<&'static str>,
    resource: String,
}

/// Listing the bucket: the only bucket-level action either user gets.
const LIST: [&str; 1] = ["s3:ListBucket"];
/// Object actions of the read user.
const READ_OBJECTS: [&str; 1] = ["s3:GetObject"];
/// Object actions of the write user: read, upload (multipart uploads included: S3 authorizes
/// their create/upload-part/complete calls as `s3:PutObject`), delete, clean up uploads.
const WRITE_OBJECTS: [&str; 5] = [
    "s3:GetObject",
    "s3:PutObject",
    "s3:DeleteObject",
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
];

/// The IAM actions the admin session calls, all on `dpipe-*` users.
const ADMIN_IAM: [&str; 9] = [
    "iam:GetUser",
    "iam:CreateUser",
    "iam:DeleteUser",
    "iam:PutUserPolicy",
    "iam:ListUserPolicies",
    "iam:DeleteUserPolicy",
    "iam:ListAccessKeys",
    "iam:CreateAccessKey",
    "iam:DeleteAccessKey",
];
/// The bucket-level S3 actions the admin session calls (listing also checks existence).
const ADMIN_BUCKETS: [&str; 3] = ["s3:CreateBucket", "s3:ListBucket", "s3:DeleteBucket"];
/// The object-level S3 action the admin session calls, to empty a bucket before deleting it.
const ADMIN_OBJECTS: [&str; 1] = ["s3:DeleteObject"];

impl PolicyDocument {
    /// The read user's policy: list `bucket`, get its objects.
    pub fn read(bucket: &str) -> PolicyDocument {
        Self::bucket_user(bucket, &READ_OBJECTS)
    }

    /// The write user's policy: list `bucket`, get, put and delete its objects, abort and
    /// list the parts of multipart uploads.
    pub fn write(bucket: &str) -> PolicyDocument {
        Self::bucket_user(bucket, &WRITE_OBJECTS)
    }

    /// The policy the admin session needs to create and remove any dpipe bucket and its
    /// users, and nothing else.
    pub fn admin() -> PolicyDocument {
        PolicyDocument::new(vec![
            allow(
                "DpipeUsers",
                &ADMIN_IAM,
                format!("arn:aws:iam::*:user/{PREFIX}*"),
            ),
            allow(
                "DpipeBuckets",
                &ADMIN_BUCKETS,
                format!("arn:aws:s3:::{PREFIX}*"),
            ),
            allow(
                "DpipeObjects",
                &ADMIN_OBJECTS,
                format!("arn:aws:s3:::{PREFIX}*/*"),
            ),
        ])
    }

    /// The document as IAM's JSON text.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a policy document always serializes")
    }

    fn bucket_user(bucket: &str, object_actions: &[&'static str]) -> PolicyDocument {
        PolicyDocument::new(vec![
            allow("DpipeList", &LIST, format!("arn:aws:s3:::{bucket}")),
            allow(
                "DpipeObjects",
                object_actions,
                format!("arn:aws:s3:::{bucket}/*"),
            ),
        ])
    }

    fn new(statement: Vec<Statement>) -> PolicyDocument {
        PolicyDocument {
            version: "2012-10-17",
            statement,
        }
    }
}

fn allow(sid: &'static str, actions: &[&'static str], resource: String) -> Statement {
    Statement {
        sid,
        effect: "Allow",
        action: actions.to_vec(),
        resource,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_policy_is_scoped_to_the_bucket() {
        let json: serde_json::Value =
            serde_json::from_str(&PolicyDocument::read("dpipe-x").to_json()).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "Version": "2012-10-17",
                "Statement": [
                    {"Sid": "DpipeList", "Effect": "Allow", "Action": ["s3:ListBucket"],
                     "Resource": "arn:aws:s3:::dpipe-x"},
                    {"Sid": "DpipeObjects", "Effect": "Allow", "Action": ["s3:GetObject"],
                     "Resource": "arn:aws:s3:::dpipe-x/*"},
                ]
            })
        );
    }

    #[test]
    fn write_policy_adds_put_delete_and_multipart() {
        let json = PolicyDocument::write("dpipe-x").to_json();
        for action in ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"] {
            assert!(json.contains(action), "{json}");
        }
        assert!(!json.contains("s3:*") && !json.contains("\"*\""), "{json}");
    }
}
