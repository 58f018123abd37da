"""Managed pipes: the real d6tpipe 1.2.7 client (and `dpipe`) against `dpipe serve` alone.

A pipe created with a name only (`d6tpipe create --pipe NAME`, i.e.
`d6tpipe.upsert_pipe(api, {'name': NAME})`) lives on the server's built-in object store at
s3://dpipe/<owner>/<pipe>/ (protocol §5.3). The credentials endpoint mints keys per
(user, pipe, role) and releases the store's URL as `endpoint_url` (§4.13), so neither the
client nor dpipe needs moto or any AWS setting: every AWS_* variable but AWS_CA_BUNDLE is
removed for these tests, and ~/.aws is conftest.py's empty throwaway HOME.

Run with tests/d6tpipe/run.sh (it starts the server with --storage-listen on a free port and
exports DPIPE_SERVER, DPIPE_STORAGE_URL and DPIPE_BIN), or by hand:
    DPIPE_SERVER=http://127.0.0.1:8000 [DPIPE_STORAGE_URL=http://127.0.0.1:8001] \
    DPIPE_BIN=.../dpipe VENV/bin/python -m pytest -q tests/d6tpipe/test_d6tpipe_managed.py

Every comparison is on bytes and SHA-256.
"""
import hashlib
import json
import os
import subprocess

import boto3
import botocore.exceptions
import pytest

import d6tpipe
import d6tpipe.pipe

# The control-plane tests' client helpers (temp cfg file, profiles, users) and the data-plane
# tests' file helpers. Importing the fixtures registers them in this module too.
from test_d6tpipe_client import PASSWORD, BOTO3_RESOURCE_KWARGS, api_error, get_creds, rand
from test_d6tpipe_client import env, two_users  # noqa: F401  (fixtures)
from test_d6tpipe_data import dpipe_bin, tree, write  # noqa: F401  (dpipe_bin: fixture)

# run.sh's server uses the default --managed-bucket.
MANAGED_BUCKET = 'dpipe'
PART = 8 * 2 ** 20  # boto3's multipart threshold and chunk size (luigi's S3Client passes 8 MiB)
BIG = PART + 123_457  # two parts


@pytest.fixture(autouse=True)
def no_aws_settings(monkeypatch):
    """Nothing but the credentials reply may point boto3 (or dpipe) at the store."""
    for key in list(os.environ):
        if key.startswith('AWS_') and key != 'AWS_CA_BUNDLE':
            monkeypatch.delenv(key)
    yield


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def assert_identical(got, want, where):
    """Same file names, and each file the same bytes and SHA-256."""
    assert sorted(got) == sorted(want), '{}: other files than expected'.format(where)
    for name, data in want.items():
        assert len(got[name]) == len(data), '{}: {} has {} bytes, expected {}'.format(
            where, name, len(got[name]), len(data))
        assert sha256(got[name]) == sha256(data), '{}: {} differs'.format(where, name)
        assert got[name] == data


def s3_etag(data):
    """The ETag S3 gives an object uploaded by boto3 with 8 MiB parts."""
    if len(data) <= PART:
        return hashlib.md5(data).hexdigest()
    parts = [data[i:i + PART] for i in range(0, len(data), PART)]
    digest = hashlib.md5(b''.join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    return '{}-{}'.format(digest, len(parts))


def s3_client(creds):
    """A boto3 client made from a credentials reply alone, the way luigi makes its resource."""
    return boto3.resource('s3', **creds).meta.client


def access_denied():
    return pytest.raises(botocore.exceptions.ClientError, match='AccessDenied')


def sample_files(tag):
    return {
        '{}.csv'.format(tag): 'a,b\n1,{}\n'.format(tag).encode() * 100,
        'sub/{}-nested.bin'.format(tag): os.urandom(50_000),
        '{}-big.bin'.format(tag): os.urandom(BIG),
        'empty-{}.txt'.format(tag): b'',
    }


class Managed:
    """An owner's managed pipe holding files pushed by d6tpipe, and a reader with a read grant."""

    def __init__(self, env, owner, reader):
        self.env, self.owner, self.reader = env, owner, reader
        self.name = 'demo-' + rand()
        self.remotepath = 's3://{}/{}/{}/'.format(MANAGED_BUCKET, owner.username, self.name)
        self.files = {}

    def pipe(self, user):
        # A fresh Pipe each time: no cached scan, and d6tpipe shares one TinyDB middleware
        # between Pipe objects of all profiles (protocol appendix).
        return d6tpipe.pipe.Pipe(user.api(), self.name)

    def local(self, user):
        return tree(self.pipe(user).dirpath)


@pytest.fixture
def managed(env, two_users):
    owner, reader = two_users
    m = Managed(env, owner, reader)
    r, d = d6tpipe.upsert_pipe(owner.api(), {'name': m.name})
    assert r.status_code == 201, d
    m.files = sample_files('d6t')
    pipe = m.pipe(owner)
    write(pipe.dirpath, m.files)
    assert sorted(pipe.push()) == sorted(m.files)
    d6tpipe.upsert_permissions(owner.api(), m.name, {'username': reader.username, 'role': 'read'})
    return m


# ---------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------

def test_create_managed_pipe(env, two_users):
    owner, _ = two_users
    api = owner.api()
    name = 'demo-' + rand()
    assert not [k for k in os.environ if k.startswith('AWS_') and k != 'AWS_CA_BUNDLE']

    # `d6tpipe create --pipe NAME`: PATCH 404 -> POST 201
    r, d = d6tpipe.upsert_pipe(api, {'name': name})
    assert r.status_code == 201, d
    remotepath = 's3://{}/{}/{}/'.format(MANAGED_BUCKET, owner.username, name)
    assert d['protocol'] == 's3'
    assert d['options']['remotepath'] == remotepath
    assert 'credentials' not in d

    pipe = d6tpipe.pipe.Pipe(api, name)
    assert pipe.role == 'write'
    assert pipe.settings['protocol'] == 's3'
    assert pipe.remote_prefix == remotepath

    read, write_ = get_creds(api, name, 'read'), get_creds(api, name, 'write')
    for creds in (read, write_):
        assert set(creds) <= BOTO3_RESOURCE_KWARGS, set(creds) - BOTO3_RESOURCE_KWARGS
        assert {'aws_access_key_id', 'aws_secret_access_key', 'aws_session_token',
                'endpoint_url'} <= set(creds), creds.keys()
        assert creds['endpoint_url'].startswith('http'), creds['endpoint_url']
        if os.environ.get('DPIPE_STORAGE_URL'):
            assert creds['endpoint_url'].rstrip('/') == os.environ['DPIPE_STORAGE_URL'].rstrip('/')
    assert read['aws_access_key_id'] != write_['aws_access_key_id']
    # a second fetch hands out the same key (no renew asked)
    assert get_creds(api, name, 'read')['aws_access_key_id'] == read['aws_access_key_id']

    # a new pipe is empty; the store answers the client's listing
    assert pipe.scan_remote(cached=False) == []
    assert pipe.pull() == []


def test_push_pull_read_grant(managed):
    m = managed
    # the owner's view of the remote: every file with its S3 ETag, size and time
    _, remote = m.pipe(m.owner).scan_remote(attributes=True, cached=False)
    assert sorted(f['filename'] for f in remote) == sorted(m.files)
    for f in remote:
        data = m.files[f['filename']]
        assert f['size'] == len(data), f
        assert f['crc'] == s3_etag(data), f  # BIG went up in two parts: '<md5 of md5s>-2'
        assert f['modified_at'], f

    # the reader pulls everything, byte-identical
    pipe2 = m.pipe(m.reader)
    assert pipe2.role == 'read'
    assert pipe2.remote_prefix == m.remotepath
    assert sorted(pipe2.pull()) == sorted(m.files)
    assert_identical(m.local(m.reader), m.files, 'read grantee after d6tpipe pull')
    # the reader's scan sees the same listing; a second pull moves nothing
    _, remote2 = m.pipe(m.reader).scan_remote(attributes=True, cached=False)
    assert remote2 == remote
    assert m.pipe(m.reader).pull() == []

    # read-only: the client refuses to push (no request made) ...
    write(pipe2.dirpath, {'reader.txt': b'from the reader\n'})
    with pytest.raises(ValueError, match='Read-only'):
        m.pipe(m.reader).push()
    with api_error(403):
        m.reader.api().cnxn.pipes._(m.name).credentials.get(query_params={'role': 'write'})
    # ... and the store refuses a write made directly with the read key
    creds = m.pipe(m.reader)._get_credentials()
    client = s3_client(creds)
    bucket, prefix = MANAGED_BUCKET, m.remotepath[len('s3://{}/'.format(MANAGED_BUCKET)):]
    with access_denied():
        client.put_object(Bucket=bucket, Key=prefix + 'reader.txt', Body=b'from the reader\n')
    with access_denied():
        client.delete_object(Bucket=bucket, Key=prefix + 'd6t.csv')
    # while reading with it works, and nothing changed
    got = client.get_object(Bucket=bucket, Key=prefix + 'd6t.csv')['Body'].read()
    assert got == m.files['d6t.csv']
    _, remote3 = m.pipe(m.owner).scan_remote(attributes=True, cached=False)
    assert remote3 == remote


def test_renew_gives_a_new_working_read_key(managed):
    m = managed
    assert sorted(m.pipe(m.reader).pull()) == sorted(m.files)
    api2 = m.reader.api()
    before = get_creds(api2, m.name, 'read')['aws_access_key_id']

    m.pipe(m.reader)._reset_credentials()  # GET credentials/?role=read&renew=True
    after = m.pipe(m.reader)._get_credentials()
    assert after['aws_access_key_id'] != before
    assert get_creds(api2, m.name, 'read')['aws_access_key_id'] == after['aws_access_key_id']

    # the new key works: a file deleted locally comes back with it
    pipe2 = m.pipe(m.reader)
    gone = 'sub/d6t-nested.bin'
    (pipe2.dirpath / gone).unlink()
    pipe2.setmode('all')  # d6tpipe's own record says the file is in sync; fetch all
    pulled = pipe2.pull()
    assert gone in pulled
    assert_identical(m.local(m.reader), m.files, 'read grantee after renew + pull')
    bucket, prefix = MANAGED_BUCKET, m.remotepath[len('s3://{}/'.format(MANAGED_BUCKET)):]
    listed = s3_client(after).list_objects_v2(Bucket=bucket, Prefix=prefix)
    assert sorted(o['Key'][len(prefix):] for o in listed['Contents']) == sorted(m.files)


def test_revoke_stops_the_key_at_once(managed):
    m = managed
    api2 = m.reader.api()
    creds = get_creds(api2, m.name, 'read')
    client = s3_client(creds)
    bucket, prefix = MANAGED_BUCKET, m.remotepath[len('s3://{}/'.format(MANAGED_BUCKET)):]
    assert client.list_objects_v2(Bucket=bucket, Prefix=prefix)['KeyCount'] == len(m.files)

    d6tpipe.upsert_permissions(m.owner.api(), m.name,
                               {'username': m.reader.username, 'role': 'revoke'})
    # the key already handed out is refused by the store on its next request
    with access_denied():
        client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    with access_denied():
        client.list_objects(Bucket=bucket, Prefix=prefix, EncodingType='url')
    with access_denied():
        client.get_object(Bucket=bucket, Key=prefix + 'd6t.csv')
    # and no new credentials, nor the pipe itself
    with api_error(403):
        api2.cnxn.pipes._(m.name).credentials.get(query_params={'role': 'read'})
    with api_error(403):
        api2.cnxn.pipes._(m.name).credentials.get(query_params={'role': 'read', 'renew': True})
    with api_error(403):
        d6tpipe.pipe.Pipe(api2, m.name)
    # the owner's access is untouched
    assert m.pipe(m.owner).scan_remote(cached=False) == sorted(m.files)


def test_owner_deletes_remote_files(managed):
    m = managed
    m.pipe(m.owner).delete_files_remote(files=['d6t.csv', 'sub/d6t-nested.bin'], confirm=False)
    left = sorted(set(m.files) - {'d6t.csv', 'sub/d6t-nested.bin'})
    assert m.pipe(m.owner).scan_remote(cached=False) == left
    assert m.pipe(m.reader).scan_remote(cached=False) == left


def test_luigi_exists_and_isdir(managed):
    """luigi's exists()/isdir() read folder-like keys (`sub/`): inside the pipe's folder they
    are ordinary missing keys (404), not refusals."""
    m = managed
    cnxn = m.pipe(m.owner)._connect(write=True)
    assert cnxn.exists(m.remotepath + 'd6t.csv')
    assert cnxn.isdir(m.remotepath + 'sub')  # GetObject sub_$folder$ (404), sub/, then a listing
    assert not cnxn.exists(m.remotepath + 'missing.csv')  # HeadObject 404, then isdir


def test_dpipe_pulls_what_d6tpipe_pushed(managed, dpipe_bin, tmp_path):
    m = managed
    repo = tmp_path / 'dpipe-repo'
    dpipe_env = dict(os.environ, DPIPE_CONFIG=str(tmp_path / 'dpipe-config.toml'),
                     DPIPE_PASSWORD=PASSWORD)
    dpipe_env.pop('DPIPE_PROFILE', None)

    def dpipe(*args):
        r = subprocess.run([dpipe_bin, *args], env=dpipe_env, capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0, 'dpipe {} exited {}\nstdout:\n{}\nstderr:\n{}'.format(
            ' '.join(args), r.returncode, r.stdout, r.stderr)
        return r.stdout

    # the read grantee, through dpipe
    dpipe('profile', 'init', 'dp', '--server', m.env.server, '--repo', str(repo))
    dpipe('login', '--username', m.reader.username)
    dpipe('pull', '--pipe', m.name)
    assert_identical(tree(repo / m.name), m.files, 'dpipe pull of a d6tpipe push')
    # a second pull moves nothing
    report = json.loads(dpipe('pull', '--pipe', m.name, '--json'))
    assert report['transferred'] == [], report
