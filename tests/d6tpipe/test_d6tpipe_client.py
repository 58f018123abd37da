"""Control-plane tests: the real, unmodified d6tpipe 1.2.7 client against a dpipe server.

Run with tests/d6tpipe/run.sh, or by hand:
    DPIPE_SERVER=http://127.0.0.1:8000 VENV/bin/python -m pytest -q tests/d6tpipe

Expected behaviour comes from /work/shared/d6tpipe-protocol.md (section numbers
below refer to it). No file transfers: only the repo API (accounts, pipes,
permissions, credentials).

Every test gets its own temporary profile config (never ~/d6tpipe) and fresh
random user and pipe names, so the suite can be rerun against the same server.

Client call syntax reminders (d6tpipe/http_client/client.py):
  * attribute access and ._(segment) add path segments; the verbs
    get/post/put/patch/delete send the request and return (response, json|None);
  * a body must be passed as request_body=...: a positional argument is dropped
    (that is the Pipe.update_settings quirk, §1.2);
  * query strings come from query_params={...};
  * any non-2xx raises APIError("['API error ', <status>, b'<raw body>']").
"""
import datetime
import json
import re
import secrets
import warnings

import boto3
import pytest

import d6tpipe
import d6tpipe.api
import d6tpipe.pipe
from d6tpipe.http_client.exceptions import APIError

PASSWORD = 'pw-Secret-123'

# Keys the server must never return in a pipe object (§3.3).
HIDDEN_KEYS = ('credentials', 'isPubliclyReadable', 'isPubliclyWritable', 'cache')

# Everything an s3 credentials reply may contain: each key goes straight into
# boto3.resource('s3', **creds) (§4.13).
BOTO3_RESOURCE_KWARGS = {'aws_access_key_id', 'aws_secret_access_key', 'aws_session_token',
                         'region_name', 'endpoint_url', 'use_ssl', 'verify', 'api_version'}

S3_BUCKET = 'some-bucket'
S3_CREDS = {'aws_access_key_id': 'AKIADPIPETEST0000001',
            'aws_secret_access_key': 'dpipe-test-secret-0000000000000000000001'}
S3_CREDS_READ = {'aws_access_key_id': 'AKIADPIPETESTREAD001',
                 'aws_secret_access_key': 'dpipe-test-secret-read-00000000000000001'}
S3_CREDS_WRITE = {'aws_access_key_id': 'AKIADPIPETESTWRITE01',
                  'aws_secret_access_key': 'dpipe-test-secret-write-0000000000000001'}
SFTP_CREDS = {'username': 'sftpuser', 'password': 'sftppass'}


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def rand(n=4):
    return secrets.token_hex(n)


def api_error(status, text=None):
    """pytest.raises for the client's APIError with this status (and body text).

    The message is exactly str(['API error ', status, raw_body_bytes]) (§1.3).
    """
    pattern = r"^\['API error ', {}, b".format(status)
    if text is not None:
        pattern += '.*' + re.escape(text)
    return pytest.raises(APIError, match=pattern)


def assert_pipe_shape(d, name):
    assert isinstance(d, dict) and d, d
    assert d['name'] == name
    assert d['protocol'] in ('s3', 'ftp', 'sftp')
    assert isinstance(d['options'], dict)
    assert d['options']['remotepath'].endswith('/')
    for key in HIDDEN_KEYS:
        assert key not in d, 'pipe {} leaks {!r}'.format(name, key)


def get_pipe(api, name):
    r, d = api.cnxn.pipes._(name).get()
    assert r.status_code == 200
    assert_pipe_shape(d, name)
    return d


def get_creds(api, name, role):
    r, d = api.cnxn.pipes._(name).credentials.get(query_params={'role': role})
    assert r.status_code == 200
    assert isinstance(d, dict) and len(d) > 0
    return d


def assert_s3_creds(creds, expected):
    """creds carry expected's key pair and nothing boto3.resource would reject."""
    assert set(creds) <= BOTO3_RESOURCE_KWARGS, set(creds) - BOTO3_RESOURCE_KWARGS
    assert {k: creds[k] for k in expected} == expected
    boto3.resource('s3', **creds)  # raises TypeError on an unexpected kwarg; no network


def list_names(api):
    r, d = api.cnxn.pipes.get()
    assert r.status_code == 200
    assert isinstance(d, list), d  # a bare array, not paginated (§4.5)
    for item in d:
        assert_pipe_shape(item, item['name'])
    names = sorted(o['name'] for o in d)
    assert api.list_pipes() == names
    return names


def s3_parent(name, creds=S3_CREDS, **extra):
    return {'name': name, 'protocol': 's3', 'location': S3_BUCKET,
            'credentials': dict(creds), **extra}


class User:
    def __init__(self, env, profile, username, email, token):
        self.env, self.profile = env, profile
        self.username, self.email, self.token = username, email, token

    def api(self):
        """A fresh APIClient for this user's profile (reads the token from the cfg file)."""
        return self.env.api(self.profile)


class ClientEnv:
    """One test's client side: a temp cfg file, its profiles and users."""

    def __init__(self, server_url, tmp_path):
        self.server = server_url
        self.cfgfile = str(tmp_path / 'd6tpipe' / 'cfg.json')
        self.filerepo = tmp_path / 'repo'
        self.profiles = []

    def configmgr(self, profile):
        return d6tpipe.api.ConfigManager(profile=profile, filecfg=self.cfgfile)

    def api(self, profile):
        """APIClient for profile, creating the profile in the temp cfg file first.

        ConfigManager would otherwise auto-create it pointing at the hosted
        server with its file repo under ~/d6tpipe.
        """
        if profile not in self.profiles:
            self.configmgr(profile).init({'server': self.server, 'filerepo': str(self.filerepo)})
            self.profiles.append(profile)
        return d6tpipe.api.APIClient(profile=profile, filecfg=self.cfgfile)

    def new_user(self, tag='u'):
        username = '{}{}'.format(tag, rand())
        email = '{}@example.com'.format(username)
        api = self.api(username)
        assert api.token is None
        token = api.register(username, email, PASSWORD)
        assert token, 'register returned no token'
        return User(self, username, username, email, token)

    def cleanup(self):
        """Best effort: unregister every user that still has a token in its profile."""
        for profile in self.profiles:
            try:
                token = self.configmgr(profile).load().get('token')
                if not token:
                    continue
                with warnings.catch_warnings():
                    # a profile whose user is already gone warns on its E1 call
                    warnings.simplefilter('ignore')
                    api = d6tpipe.api.APIClient(profile=profile, filecfg=self.cfgfile)
                if getattr(api, 'username', None):
                    api._unregister(api.username)
            except Exception:
                pass


@pytest.fixture
def env(server_url, tmp_path):
    e = ClientEnv(server_url, tmp_path)
    yield e
    e.cleanup()


@pytest.fixture
def two_users(env):
    return env.new_user('own'), env.new_user('oth')


# ---------------------------------------------------------------------------
# accounts (§4.1-§4.4)
# ---------------------------------------------------------------------------

def test_register_login_whoami(env):
    # user 1 through the client's register(): token stored in the profile, then E1
    name1 = 'reg{}'.format(rand())
    email1 = name1 + '@example.com'
    api1 = env.api('p1')
    assert api1.token is None
    token1 = api1.register(name1, email1, PASSWORD)
    assert re.fullmatch(r'[0-9a-f]{40}', token1), token1
    assert env.configmgr('p1').load()['token'] == token1
    assert api1.token == token1
    assert api1.username == name1  # set by the E1 call after registering

    # user 2 by a raw POST, to see the status code, then setToken()
    name2 = 'reg{}'.format(rand())
    api2 = env.api('p2')
    r, d = api2.cnxn.accounts.post(request_body={'username': name2, 'email': name2 + '@example.com',
                                                 'password': PASSWORD})
    assert r.status_code == 201
    token2 = d['token']
    assert re.fullmatch(r'[0-9a-f]{40}', token2) and token2 != token1
    assert 'password' not in d
    api2.setToken(token2)
    assert api2.username == name2
    assert env.configmgr('p2').load()['token'] == token2

    # E1 whoami
    r, d = env.api('p1').cnxn.get()
    assert r.status_code == 200 and d['username'] == name1
    r, d = env.api('p2').cnxn.get()
    assert r.status_code == 200 and d['username'] == name2

    # duplicate registration -> UserWarning + None, from a profile already holding a token
    with pytest.warns(UserWarning, match='already registered'):
        assert env.api('p1').register(name1, email1, PASSWORD) is None
    # ... and a new username with an existing email
    with pytest.warns(UserWarning, match='already registered'):
        assert env.api('p2').register('reg{}'.format(rand()), email1, PASSWORD) is None
    assert env.configmgr('p1').load()['token'] == token1
    assert env.configmgr('p2').load()['token'] == token2
    with api_error(400, 'This field must be unique'):
        env.api('p3').cnxn.accounts.post(request_body={'username': name1, 'email': email1,
                                                       'password': PASSWORD})

    # 'public' is reserved; the error must not be mistaken for a duplicate
    with api_error(400, 'Username'):
        env.api('p3').register('public', 'public{}@example.com'.format(rand()), PASSWORD)

    # login / forgotToken return the same persistent token
    assert env.api('p1').login(name1, PASSWORD) == token1
    assert env.api('p2').forgotToken(name2, PASSWORD) == token2
    api4 = env.api('p4')  # a fresh profile logs in and gets the token stored
    assert api4.token is None
    assert api4.login(name1, PASSWORD) == token1
    assert env.configmgr('p4').load()['token'] == token1
    assert api4.username == name1
    with api_error(400):
        env.api('p5').login(name1, 'wrong-password')

    # a bad token: E1 failure is only a warning in the client; requests get 401
    with pytest.warns(UserWarning, match='API connection error'):
        bad = d6tpipe.api.APIClient(token='0' * 40, profile='p5', filecfg=env.cfgfile)
    with api_error(401):
        bad.cnxn.pipes.get()


# ---------------------------------------------------------------------------
# pipes (§3, §4.5-§4.10, §5)
# ---------------------------------------------------------------------------

def test_s3_pipes(env, two_users):
    owner, other = two_users
    api = owner.api()
    parent, child, other_pipe = 'par-' + rand(), 'chi-' + rand(), 'alt-' + rand()
    assert list_names(api) == []

    # create the parent through upsert_pipe: PATCH 404 'Not found' -> POST 201
    with api_error(404, 'Not found'):
        api.cnxn.pipes._(parent).patch(request_body=s3_parent(parent))
    with api_error(404, 'Not found'):
        api.cnxn.pipes._(parent).get()
    r, d = d6tpipe.upsert_pipe(api, s3_parent(parent))
    assert r.status_code == 201
    assert_pipe_shape(d, parent)
    assert d['options']['remotepath'] == 's3://{}/'.format(S3_BUCKET)
    assert list_names(api) == [parent]

    d = get_pipe(api, parent)
    assert d['role'] == 'write'
    assert d['protocol'] == 's3'
    assert d['location'] == S3_BUCKET
    assert d['options']['remotepath'] == 's3://{}/'.format(S3_BUCKET)
    assert not d.get('parent')

    # child pipe: inherits protocol/location, nests its dir under the parent
    r, d = d6tpipe.upsert_pipe(api, {'name': child, 'parent': parent, 'options': {'dir': 'vendorX'}})
    assert r.status_code == 201
    assert_pipe_shape(d, child)
    d = get_pipe(api, child)
    assert d['role'] == 'write'
    assert d['protocol'] == 's3'
    assert d['parent'] == parent
    assert d['parent-ultimate'] == parent
    assert d['options']['dir'] == 'vendorX'
    assert d['options']['remotepath'] == 's3://{}/vendorX/'.format(S3_BUCKET)
    assert list_names(api) == sorted([parent, child])
    assert api.list_pipes(parent_only=True) == [parent]

    # validation errors (§4.6), each on a fresh name
    with api_error(400, 'unique'):
        api.cnxn.pipes.post(request_body=s3_parent(parent))
    with api_error(400, 'alphanumeric'):
        api.cnxn.pipes.post(request_body=s3_parent('$invalid'))
    with api_error(400, 'Paths'):
        api.cnxn.pipes.post(request_body=s3_parent('bad-' + rand(), options={'dir': 'C:\\Drive'}))
    with api_error(400, 'does not exist'):
        api.cnxn.pipes.post(request_body={'name': 'bad-' + rand(), 'parent': 'noexist-' + rand(),
                                          'options': {'dir': 'vendorX'}})
    assert list_names(api) == sorted([parent, child])

    # upsert of an existing pipe: PATCH then GET (200); options are replaced, remotepath recomputed
    r, d = d6tpipe.upsert_pipe(api, s3_parent(other_pipe, options={'dir': 'dir1', 'include': '*.csv'}))
    assert r.status_code == 201
    assert d['options']['remotepath'] == 's3://{}/dir1/'.format(S3_BUCKET)
    assert list_names(api) == sorted([parent, child, other_pipe])
    r, d = d6tpipe.upsert_pipe(api, s3_parent(other_pipe, options={'dir': 'dir2'}))
    assert r.status_code == 200
    assert d['options']['dir'] == 'dir2'
    assert d['options']['remotepath'] == 's3://{}/dir2/'.format(S3_BUCKET)
    assert 'include' not in d['options']
    d = get_pipe(api, other_pipe)
    assert d['options']['dir'] == 'dir2'
    assert d['options']['remotepath'] == 's3://{}/dir2/'.format(S3_BUCKET)
    # schema is stored and returned as given
    schema = {'pandas': {'sep': ',', 'header': 0}}
    d6tpipe.upsert_pipe(api, {'name': other_pipe, 'schema': schema})
    assert get_pipe(api, other_pipe)['schema'] == schema

    r, d = api.cnxn.pipes._(other_pipe).delete()
    assert r.status_code == 204 and d is None
    assert list_names(api) == sorted([parent, child])

    # the other user sees nothing and is refused (403, not 404)
    api2 = other.api()
    assert list_names(api2) == []
    with api_error(403):
        api2.cnxn.pipes._(parent).get()
    with api_error(403):
        api2.cnxn.pipes._(child).get()
    with api_error(403):
        api2.cnxn.pipes._(parent).patch(request_body={'options': {'dir': 'x'}})
    with api_error(403):
        api2.cnxn.pipes._(parent).delete()
    with api_error(403):
        api2.cnxn.pipes.post(request_body={'name': 'bad-' + rand(), 'parent': parent})

    # credentials endpoint: role is required
    with api_error(400):
        api.cnxn.pipes._(parent).credentials.get()
    with api_error(400):
        api.cnxn.pipes._(parent).credentials.get(query_params={'role': 'bogus'})
    with api_error(404, 'Not found'):
        api.cnxn.pipes._('missing-' + rand()).credentials.get(query_params={'role': 'read'})

    # deleting the parent deletes the child (§10)
    r, d = api.cnxn.pipes._(parent).delete()
    assert r.status_code == 204
    with api_error(404, 'Not found'):
        api.cnxn.pipes._(child).get()
    assert list_names(api) == []


def test_permissions(env, two_users):
    """The full sequence of §6 (tests-main.py test_permissions), plus E12 and the public grant."""
    owner, other = two_users
    api, api2 = owner.api(), other.api()
    parent, child = 'par-' + rand(), 'chi-' + rand()
    d6tpipe.upsert_pipe(api, s3_parent(parent))
    d6tpipe.upsert_pipe(api, {'name': child, 'parent': parent, 'options': {'dir': 'vendorX'}})

    def grant(name, **body):
        r, d = api.cnxn.pipes._(name).permissions.post(request_body=body)
        assert r.status_code in (200, 201, 204)

    def check(names, pipe, role):
        """other's view: visible pipe names, and role (None = no access) on pipe."""
        assert list_names(api2) == sorted(names)
        if role is None:
            with api_error(403):
                api2.cnxn.pipes._(pipe).get()
            with api_error(403):
                api2.cnxn.pipes._(pipe).credentials.get(query_params={'role': 'read'})
            return
        assert get_pipe(api2, pipe)['role'] == role
        assert_s3_creds(get_creds(api2, pipe, 'read'), S3_CREDS)
        if role == 'write':
            assert_s3_creds(get_creds(api2, pipe, 'write'), S3_CREDS)
        else:
            with api_error(403):
                api2.cnxn.pipes._(pipe).credentials.get(query_params={'role': 'write'})
        with api_error(403):  # permission is checked before validation (§4.9)
            api2.cnxn.pipes._(pipe).put(request_body={'bad': 'request'})
        with api_error(403):
            api2.cnxn.pipes._(pipe).permissions.post(request_body={'username': other.username,
                                                                   'role': 'write'})
        with api_error(403):
            api2.cnxn.pipes._(pipe).delete()

    both = [parent, child]
    # owner
    assert list_names(api) == sorted(both)
    assert get_pipe(api, parent)['role'] == 'write'
    assert_s3_creds(get_creds(api, parent, 'write'), S3_CREDS)
    assert_s3_creds(get_creds(api, child, 'read'), S3_CREDS)

    check([], parent, None)
    d6tpipe.upsert_permissions(api, parent, {'username': other.username, 'role': 'read'})
    check(both, parent, 'read')
    check(both, child, 'read')
    r, grants = api.cnxn.pipes._(parent).permissions.get()  # E12, owner only
    assert r.status_code == 200 and isinstance(grants, list) and len(grants) == 1
    assert grants[0]['username'] == other.username and grants[0]['role'] == 'read'
    with api_error(403):
        api2.cnxn.pipes._(parent).permissions.get()
    d6tpipe.upsert_permissions(api, parent, {'username': other.username, 'role': 'revoke'})
    check([], parent, None)

    # a grant on the child only gives nothing on the parent
    grant(child, username=other.username, role='read')
    check([child], child, 'read')
    check([child], parent, None)
    grant(child, username=other.username, role='revoke')
    check([], child, None)
    grant(parent, username=other.username, role='revoke')  # revoking nothing is a no-op
    check([], parent, None)

    # by email; an expired grant (today - 2 days) gives no access
    expired = (datetime.date.today() - datetime.timedelta(days=2)).strftime('%Y-%m-%d')
    grant(parent, email=other.email, role='write', expiration_date=expired)
    check([], parent, None)
    grant(parent, email=other.email, role='write')  # replaces the expired grant
    check(both, parent, 'write')
    check(both, child, 'write')
    grant(parent, email=other.email, role='revoke')
    check([], parent, None)
    grant(child, email=other.email, role='write')
    check([child], child, 'write')
    check([child], parent, None)
    grant(child, username=other.username, role='revoke')  # same grantee as the email grant
    check([], child, None)

    # public read: everyone (anonymous too) reads; public write grants nothing
    grant(parent, username='public', role='read')
    check(both, parent, 'read')
    check(both, child, 'read')
    anon = env.api('anon')
    assert anon.token is None
    assert get_pipe(anon, parent)['role'] == 'read'
    assert get_pipe(anon, child)['role'] == 'read'
    grant(parent, username='public', role='write')  # "public write disabled for now"
    check([], parent, None)
    grant(parent, username='public', role='revoke')
    check([], parent, None)
    with api_error(401):
        anon.cnxn.pipes._(parent).get()

    # bad grants
    with api_error(400):
        api.cnxn.pipes._(parent).permissions.post(
            request_body={'username': 'nouser' + rand(), 'role': 'read'})
    with api_error(400):
        api.cnxn.pipes._(parent).permissions.post(
            request_body={'username': other.username, 'role': 'superuser'})
    with api_error(404, 'Not found'):
        api.cnxn.pipes._('missing-' + rand()).permissions.post(
            request_body={'username': other.username, 'role': 'read'})

    # the owner still has full rights
    assert get_pipe(api, parent)['role'] == 'write'


def test_pipe_objects_and_credentials(env, two_users):
    """d6tpipe.Pipe construction and the credentials it hands to boto3/luigi."""
    owner, other = two_users
    api, api2 = owner.api(), other.api()
    parent, child, split = 'par-' + rand(), 'chi-' + rand(), 'spl-' + rand()
    schema = {'pandas': {'sep': ','}}
    d6tpipe.upsert_pipe(api, s3_parent(parent))
    d6tpipe.upsert_pipe(api, {'name': child, 'parent': parent, 'options': {'dir': 'vendorX'},
                              'schema': schema})

    # owner
    pipe = d6tpipe.Pipe(api, child)
    assert pipe.role == 'write'
    assert pipe.remote_prefix == 's3://{}/vendorX/'.format(S3_BUCKET)
    assert pipe.settings['protocol'] == 's3'
    assert pipe.schema == schema
    assert env.filerepo in pipe.dirpath.parents  # the profile's repo, not ~/d6tpipe
    assert_s3_creds(pipe._get_credentials(), S3_CREDS)
    assert_s3_creds(pipe._get_credentials(write=True), S3_CREDS)
    # the real data-plane entry point builds luigi's S3Client and its boto3 resource
    # from the reply (constructing both makes no network call)
    cnxn = pipe._connect(write=True)
    assert cnxn.s3 is not None

    # no access yet
    with api_error(403):
        d6tpipe.Pipe(api2, child)

    # read grantee on the parent reaches the child
    d6tpipe.upsert_permissions(api, parent, {'username': other.username, 'role': 'read'})
    pipe2 = d6tpipe.Pipe(api2, child)
    assert pipe2.role == 'read'
    assert pipe2.remote_prefix == 's3://{}/vendorX/'.format(S3_BUCKET)
    assert pipe2.schema == schema
    creds = pipe2._get_credentials()
    assert_s3_creds(creds, S3_CREDS)
    assert pipe2._connect().s3 is not None
    with pytest.raises(ValueError, match='Read-only'):  # client-side, no request made
        pipe2._get_credentials(write=True)
    pipe2 = d6tpipe.Pipe(api2, parent)
    assert pipe2.role == 'read' and pipe2.remote_prefix == 's3://{}/'.format(S3_BUCKET)

    # split read/write credentials: each role gets its own half
    d6tpipe.upsert_pipe(api, {'name': split, 'protocol': 's3', 'location': S3_BUCKET,
                              'credentials': {'read': S3_CREDS_READ, 'write': S3_CREDS_WRITE}})
    assert_s3_creds(d6tpipe.Pipe(api, split)._get_credentials(), S3_CREDS_READ)
    assert_s3_creds(d6tpipe.Pipe(api, split)._get_credentials(write=True), S3_CREDS_WRITE)
    d6tpipe.upsert_permissions(api, split, {'username': other.username, 'role': 'read'})
    assert_s3_creds(d6tpipe.Pipe(api2, split)._get_credentials(), S3_CREDS_READ)
    d6tpipe.upsert_permissions(api, split, {'username': other.username, 'role': 'write'})
    pipe2 = d6tpipe.Pipe(api2, split)
    assert pipe2.role == 'write'
    assert_s3_creds(pipe2._get_credentials(write=True), S3_CREDS_WRITE)


def test_sftp_and_ftp_pipes(env, two_users, tmp_path):
    owner, _ = two_users
    api = owner.api()
    parent, child, ftp = 'sft-' + rand(), 'sfc-' + rand(), 'ftp-' + rand()

    # the parent comes from a JSON settings file, as in the docs; this goes
    # through d6tpipe.utils.loadyaml (the yaml.load shim)
    cfg = tmp_path / 'pipes.json'
    cfg.write_text(json.dumps({parent: {'name': parent, 'protocol': 'sftp', 'location': '127.0.0.1',
                                        'credentials': SFTP_CREDS}}))
    r, d = d6tpipe.upsert_pipe_json(api, str(cfg), parent)
    assert r.status_code == 201
    r, d = d6tpipe.upsert_pipe(api, {'name': child, 'parent': parent,
                                     'options': {'dir': '/abs/dir'}})
    assert r.status_code == 201

    d = get_pipe(api, parent)
    assert d['protocol'] == 'sftp' and d['location'] == '127.0.0.1'
    assert d['options']['remotepath'] == '/'
    d = get_pipe(api, child)
    assert d['protocol'] == 'sftp'
    assert d['location'] == '127.0.0.1'  # _connect() uses it as the host
    assert d['parent-ultimate'] == parent
    assert d['options']['remotepath'] == '/abs/dir/'

    assert get_creds(api, child, 'read') == SFTP_CREDS
    assert get_creds(api, child, 'write') == SFTP_CREDS
    pipe = d6tpipe.Pipe(api, child)
    assert pipe.role == 'write' and pipe.remote_prefix == '/abs/dir/'
    assert pipe._get_credentials() == SFTP_CREDS

    # ftp root pipe with a relative dir
    r, d = d6tpipe.upsert_pipe(api, {'name': ftp, 'protocol': 'ftp', 'location': '127.0.0.1',
                                     'credentials': SFTP_CREDS, 'options': {'dir': 'utest'}})
    assert r.status_code == 201
    d = get_pipe(api, ftp)
    assert d['protocol'] == 'ftp' and d['options']['remotepath'] == '/utest/'
    assert d6tpipe.Pipe(api, ftp)._get_credentials(write=True) == SFTP_CREDS


def test_update_settings_empty_patch(env, two_users):
    """Pipe.update_settings() sends PATCH with no body at all (§1.2): a 200 no-op."""
    owner, _ = two_users
    api = owner.api()
    name = 'upd-' + rand()
    schema = {'pandas': {'sep': ';'}}
    d6tpipe.upsert_pipe(api, s3_parent(name, options={'dir': 'data', 'include': '*.csv'},
                                       schema=schema))
    keys = ('name', 'protocol', 'location', 'options', 'schema', 'role', 'parent')
    before = get_pipe(api, name)

    pipe = d6tpipe.Pipe(api, name)
    r, d = pipe.update_settings({'schema': {'changed': True}})
    assert r.status_code == 200
    assert_pipe_shape(d, name)
    after = get_pipe(api, name)
    assert {k: after.get(k) for k in keys} == {k: before.get(k) for k in keys}
    assert after['schema'] == schema

    # a PATCH with a real body does update (and only the given keys)
    r, d = api.cnxn.pipes._(name).patch(request_body={'schema': {'changed': True}})
    assert r.status_code == 200 and d['schema'] == {'changed': True}
    after = get_pipe(api, name)
    assert after['schema'] == {'changed': True}
    assert after['options'] == before['options']


def test_unregister(env, two_users):
    owner, other = two_users
    api, api2 = owner.api(), other.api()
    parent, child = 'par-' + rand(), 'chi-' + rand()

    with api_error(403, 'can only unregister yourself'):
        api._unregister(other.username)

    d6tpipe.upsert_pipe(api, s3_parent(parent))
    d6tpipe.upsert_pipe(api, {'name': child, 'parent': parent, 'options': {'dir': 'vendorX'}})
    d6tpipe.upsert_permissions(api, parent, {'username': other.username, 'role': 'read'})
    assert list_names(api2) == sorted([parent, child])

    # unregister self through the client: token dropped from the profile
    api._unregister(owner.username)
    assert env.configmgr(owner.profile).load()['token'] is None
    # the old token is dead
    with pytest.warns(UserWarning, match='API connection error'):
        stale = d6tpipe.api.APIClient(token=owner.token, profile=owner.profile, filecfg=env.cfgfile)
    with api_error(401):
        stale.cnxn.pipes.get()
    # pipes, children and grants went with the account
    assert list_names(api2) == []
    with api_error(404, 'Not found'):
        api2.cnxn.pipes._(parent).get()
    with api_error(404, 'Not found'):
        api2.cnxn.pipes._(child).get()

    # raw unregister of the other user: 204 with an empty body
    r, d = api2.cnxn.accounts._(other.username).delete()
    assert r.status_code == 204 and d is None
    env.configmgr(other.profile).update({'token': None})  # what _unregister() does

    # both usernames and emails are free again, and so are the pipe names.
    # A fresh APIClient: the old object would still send the dead token.
    api = owner.api()
    assert api.token is None
    token = api.register(owner.username, owner.email, PASSWORD)
    assert token and token != owner.token
    assert api.username == owner.username
    api2 = other.api()
    assert api2.register(other.username, other.email, PASSWORD)
    r, d = d6tpipe.upsert_pipe(api, s3_parent(parent))
    assert r.status_code == 201
    r, d = d6tpipe.upsert_pipe(api, {'name': child, 'parent': parent, 'options': {'dir': 'vendorX'}})
    assert r.status_code == 201
    assert get_pipe(api, child)['options']['remotepath'] == 's3://{}/vendorX/'.format(S3_BUCKET)
    assert list_names(api2) == []  # the old grant did not survive
