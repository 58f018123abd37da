//! `docs/s3-provisioning.md` publishes the admin, read and write policies: they must be the
//! ones the code uses.

use dpipe_provision::PolicyDocument;
use serde_json::Value;

/// The ```json blocks of the document that are IAM policies, in order.
fn documented_policies() -> Vec<Value> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/s3-provisioning.md");
    let text = std::fs::read_to_string(path).expect("read docs/s3-provisioning.md");
    text.split("```json\n")
        .skip(1)
        .map(|block| block.split("```").next().unwrap())
        .filter_map(|block| serde_json::from_str::<Value>(block).ok())
        .filter(|value| value.get("Statement").is_some())
        .collect()
}

#[test]
fn documented_policies_are_the_ones_in_use() {
    let expected: Vec<Value> = [
        PolicyDocument::admin(),
        PolicyDocument::read("dpipe-NAME"),
        PolicyDocument::write("dpipe-NAME"),
    ]
    .iter()
    .map(|policy| serde_json::to_value(policy).unwrap())
    .collect();
    assert_eq!(documented_policies(), expected);
}
