"""Set up the data schemathesis runs against, then write one schemathesis config per role.

A fresh `dpipe serve` knows no users and no pipes, so nearly every generated request would
end in 401 or 404 and leave the interesting code paths unexercised. This script makes:

* users `reader`, `writer` and `admin` (`admin` owns everything below) and `bystander`
  (a user no role may delete);
* remotes of every kind (`st-remote-s3` with split credentials, `st-remote-ftp`,
  `st-remote-sftp`, `st-remote-fs`);
* pipes: `st-root-s3` (inline S3 with credentials) and its children `st-child-s3` and
  `st-grandchild-s3`, `st-pipe-ftp`, `st-pipe-sftp`, `st-pipe-fs`, `st-pipe-remote-s3` (on
  the remotes), `st-managed` and its child (the server's managed storage), `st-public`
  (public read) and `st-private` (nobody but `admin`);
* grants: `reader` may read and `writer` may write every pipe but `st-private`; `st-public`
  is readable by everybody, anonymous callers included.

Then it writes, for each role, `<out>/<role>.toml`: a schemathesis config whose dictionaries
make generated path parameters name these pipes, remotes and users most of the time (and a
generated name the rest of it), and `<out>/tokens.env` with each role's token.

Usage: fixtures.py BASE_URL OUT_DIR
"""

import json
import sys
import urllib.error
import urllib.request

ROLES = ("anonymous", "read", "write", "admin")
# The user each role calls as (anonymous: none).
ROLE_USER = {"read": "reader", "write": "writer", "admin": "admin"}
USERS = ("reader", "writer", "admin", "bystander")
PASSWORD = "schemathesis-password-1"

REMOTES = [
    {
        "name": "st-remote-s3",
        "protocol": "s3",
        "location": "st-bucket-remote",
        "credentials": {
            "read": {"aws_access_key_id": "READKEY", "aws_secret_access_key": "readsecret"},
            "write": {"aws_access_key_id": "WRITEKEY", "aws_secret_access_key": "writesecret"},
        },
        "settings": {"region": "us-east-1", "endpoint": "http://127.0.0.1:9"},
    },
    {
        "name": "st-remote-ftp",
        "protocol": "ftp",
        "location": "127.0.0.1:2121",
        "credentials": {"username": "ftpuser", "password": "ftppass"},
    },
    {
        "name": "st-remote-sftp",
        "protocol": "sftp",
        "location": "127.0.0.1:2222",
        "credentials": {"username": "sftpuser", "password": "sftppass"},
    },
    {"name": "st-remote-fs", "protocol": "fs", "location": "/srv/dpipe-schemathesis"},
]

# In creation order: a parent before its children.
PIPES = [
    {
        "name": "st-root-s3",
        "protocol": "s3",
        "location": "st-bucket-root",
        "credentials": {"aws_access_key_id": "ROOTKEY", "aws_secret_access_key": "rootsecret"},
        "options": {"dir": "data"},
        "schema": {"pandas": {"sep": ","}},
    },
    {"name": "st-child-s3", "parent": "st-root-s3", "options": {"dir": "child", "include": "*.csv"}},
    {"name": "st-grandchild-s3", "parent": "st-child-s3", "options": {"exclude": "*.tmp"}},
    {"name": "st-pipe-ftp", "remote": "st-remote-ftp", "options": {"dir": "ftp"}},
    {"name": "st-pipe-sftp", "remote": "st-remote-sftp"},
    {"name": "st-pipe-fs", "remote": "st-remote-fs", "options": {"dir": "fs"}},
    {"name": "st-pipe-remote-s3", "remote": "st-remote-s3"},
    {"name": "st-managed"},
    {"name": "st-managed-child", "parent": "st-managed", "options": {"dir": "child"}},
    {"name": "st-public", "protocol": "s3", "location": "st-bucket-public"},
    {"name": "st-private", "protocol": "s3", "location": "st-bucket-private"},
]

GRANTS = [
    (pipe["name"], grant)
    for pipe in PIPES
    if "parent" not in pipe and pipe["name"] != "st-private"
    for grant in ({"username": "reader", "role": "read"}, {"username": "writer", "role": "write"})
] + [
    ("st-public", {"username": "public", "role": "read"}),
    ("st-root-s3", {"email": "invited@example.com", "role": "read"}),
]


def call(base, method, path, body=None, token=None):
    """One request to the repo API; returns (status, parsed JSON body or None)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(base + "/v1/api/" + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Token " + token)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
            return response.status, json.loads(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def must(base, method, path, body=None, token=None, expect=201):
    """Like `call`, but any other status than `expect` stops the set-up with the answer."""
    status, answer = call(base, method, path, body, token)
    if status != expect:
        sys.exit(f"set-up failed: {method} /v1/api/{path} answered {status} {answer}")
    return answer


def toml_list(values):
    return "[" + ", ".join(json.dumps(v) for v in values) + "]"


def role_config(role):
    """The schemathesis config of one role: known names for the path parameters.

    A role's own username is left out of the usernames its run may pick, so that
    DELETE accounts/<username>/ never unregisters the caller halfway through its run.
    """
    others = [u for u in USERS if u != ROLE_USER.get(role)]
    pipes = [p["name"] for p in PIPES] + ["st-missing"]
    remotes = [r["name"] for r in REMOTES] + ["st-missing"]
    return f"""# Written by tests/schemathesis/fixtures.py for the {role} run.
[dictionaries.pipes]
values = {toml_list(pipes)}

[dictionaries.remotes]
values = {toml_list(remotes)}

[dictionaries.users]
values = {toml_list(others)}

[[operations]]
include-path-regex = "^/v1/api/pipes/"
parameters = {{ "path.name" = {{ dictionary = "pipes", probability = 0.8 }} }}

[[operations]]
include-path-regex = "^/v1/api/remotes/"
parameters = {{ "path.name" = {{ dictionary = "remotes", probability = 0.8 }} }}

[[operations]]
include-path-regex = "^/v1/api/accounts/"
parameters = {{ "path.username" = {{ dictionary = "users", probability = 0.8 }} }}
"""


def main():
    base, out = sys.argv[1].rstrip("/"), sys.argv[2]
    tokens = {}
    for user in USERS:
        body = {"username": user, "email": f"{user}@example.com", "password": PASSWORD}
        tokens[user] = must(base, "POST", "accounts/", body)["token"]
    owner = tokens["admin"]
    for remote in REMOTES:
        must(base, "POST", "remotes/", remote, owner)
    for pipe in PIPES:
        must(base, "POST", "pipes/", pipe, owner)
    for pipe, grant in GRANTS:
        must(base, "POST", f"pipes/{pipe}/permissions/", grant, owner)
    # A sanity check of the set-up itself: each role sees what it was given.
    for role, user in ROLE_USER.items():
        must(base, "GET", "pipes/st-child-s3/credentials/?role=read", token=tokens[user], expect=200)
    must(base, "GET", "pipes/st-public/", expect=200)

    with open(f"{out}/tokens.env", "w") as env:
        for role, user in ROLE_USER.items():
            env.write(f"TOKEN_{role}={tokens[user]}\n")
    for role in ROLES:
        with open(f"{out}/{role}.toml", "w") as config:
            config.write(role_config(role))
    print(f"set up {len(USERS)} users, {len(REMOTES)} remotes, {len(PIPES)} pipes, {len(GRANTS)} grants")


if __name__ == "__main__":
    main()
