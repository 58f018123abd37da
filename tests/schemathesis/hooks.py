"""Schemathesis hooks for the dpipe runs (loaded through SCHEMATHESIS_HOOKS by
scripts/schemathesis.sh).

positive_data_acceptance (ST202) fails a schema-valid request that the server refuses. Some
refusals depend on what is stored, not on the request's shape, and no schema can state them:
the d6tpipe protocol answers them with 400 and a fixed text (a taken name, a parent, remote or
user that does not exist, a wrong password, a used invitation link, a remote still in use).
A generated request hits them by chance (e.g. the second `"username": "0"` of a run), so those
refusals — and only those — are not counted as failures. Every other 400 to a schema-valid
request still fails the run: it is a rule the document does not state.
"""

import os
import re

import schemathesis

# The texts of the refusals that depend on stored state (dpipe-core's MUST_BE_UNIQUE,
# dpipe-registry's pipes.rs, grants.rs, accounts.rs, invitations.rs and remotes.rs).
STATEFUL_REFUSALS = re.compile(
    r"This field must be unique\."
    r"|Object with name=[^\s\"]+ does not exist\."
    r"|User [^\s\"]+ does not exist\."
    r"|Unable to log in with provided credentials\."
    r"|This invitation link is unknown or was used already\."
    r"|Remote [^\s\"]+ is used by pipes "
    # The body's name must be the one in the path: a rule between the path and the body.
    r"|A (pipe|remote)'s name cannot be changed\."
)


# Rules the server applies that the document does not state yet (issue 12 item 5; each one
# reported for the document, none a server defect): a failure matching one of them is
# counted as "Filtered" in the run's output instead of failing the run. Remove an entry
# once the document states its rule; an entry that stops matching costs nothing.
# (code, operation, response text)
DOCUMENT_GAPS = [
    # location: its format for each protocol (s3 bucket name, ftp/sftp host, fs absolute
    # folder) is stated only in prose, not in the schema.
    ("ST202", r"(POST|PUT|PATCH) /v1/api/(pipes|remotes)/", r"S3 bucket names are|Location must be"),
    # A pipe's storage fields: which of protocol, location, credentials, settings, remote and
    # parent go together (a protocol needs a location, a child takes no remote or credentials,
    # a managed pipe no location, a pipe is not its own ancestor) is stated only in prose.
    ("ST202", r"(POST|PUT|PATCH) /v1/api/pipes/", r"^\{\"(protocol|location|remote|parent|credentials|settings)\":"),
]


def is_document_gap(failure, case, response):
    return any(
        failure.code == code
        and re.match(operation, failure.operation)
        and re.search(text, response.text)
        for code, operation, text in DOCUMENT_GAPS
    )


def why_not_counted(failure, case, response):
    """Why `failure` is not a failure of the run (a document gap or a stateful refusal), or
    None when it is one."""
    if is_document_gap(failure, case, response):
        return "rule the document does not state"
    if failure.code == "ST202" and response.status_code == 400:
        if STATEFUL_REFUSALS.search(response.text):
            return "refused for what is stored"
    return None


@schemathesis.hook
def filter_failure(context, failure, case, response):
    """Keep every failure but those `why_not_counted` explains; note each one it drops in
    $DPIPE_SCHEMATHESIS_DROPPED (one line each), for the script's summary."""
    why = why_not_counted(failure, case, response)
    if why is None:
        return True
    dropped = os.environ.get("DPIPE_SCHEMATHESIS_DROPPED")
    if dropped:
        with open(dropped, "a", encoding="utf-8") as f:
            f.write(f"{why}: {failure.code} {failure.operation} {response.status_code} {response.text[:120]}\n")
    return False
