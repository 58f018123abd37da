"""Data-plane interoperability: `dpipe pull|push` against the real d6tpipe 1.2.7 client and the
real AWS CLI, through one local S3 (moto) and the dpipe server under test.

Run with tests/d6tpipe/run.sh (it exports DPIPE_SERVER and DPIPE_BIN), or by hand:
    DPIPE_SERVER=http://127.0.0.1:8000 DPIPE_BIN=.../dpipe VENV/bin/python -m pytest -q \
        tests/d6tpipe/test_d6tpipe_data.py

The S3 server is moto (`moto_server` from $DPIPE_MOTO_VENV, default
$HOME/.cache/dpipe-moto-venv, made by scripts/install-moto.sh), started here on a free
127.0.0.1 port. Not the testkit's s3s-fs: s3s-fs 0.14.1 lists objects without an ETag, and
d6tpipe's S3 scan does `o.e_tag.strip('"')` (d6tpipe/pipe.py:751), which fails on None with
`AttributeError: 'NoneType' object has no attribute 'strip'`.

The pipe is an inline s3 pipe whose `settings.endpoint` points at moto: the server releases
it as `endpoint_url` in the credentials reply (protocol §4.13, §8.1), which is how both the
unmodified d6tpipe client and `dpipe` find the local S3. The AWS CLI gets the endpoint and
the keys from its command line and environment.

Every comparison is on bytes: each file that one tool uploaded is read back through the
other tools and compared with what was written.
"""
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

import d6tpipe
import d6tpipe.api
import d6tpipe.pipe

PASSWORD = 'pw-Secret-123'
BUCKET = 'dpipe-interop'
REGION = 'us-east-1'
# moto accepts any keys; these are what the pipe stores and the credentials endpoint releases.
ACCESS_KEY = 'AKIADPIPEINTEROP0001'
SECRET_KEY = 'dpipe-interop-secret-000000000000000001'

BIG = 17 * 2 ** 20  # above both multipart thresholds (boto3 8 MiB, dpipe 16 MiB)


def rand(n=4):
    return secrets.token_hex(n)


def free_port():
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------------------
# session fixtures: moto, the dpipe binary, the AWS CLI
# ---------------------------------------------------------------------------

@pytest.fixture(scope='session')
def s3_url(tmp_path_factory):
    """A plain moto server (S3, no IAM enforcement) with BUCKET; stopped after the session."""
    # conftest.py replaced HOME: the default venv is under the real home directory.
    venv = Path(os.environ.get('DPIPE_MOTO_VENV')
                or Path(pwd.getpwuid(os.getuid()).pw_dir) / '.cache/dpipe-moto-venv')
    server = venv / 'bin/moto_server'
    if not server.exists():
        pytest.fail('moto is missing: {} does not exist; run `bash scripts/install-moto.sh` '
                    '(or set DPIPE_MOTO_VENV)'.format(server), pytrace=False)
    port = free_port()
    log = tmp_path_factory.mktemp('moto') / 'moto.log'
    with open(log, 'wb') as out:
        proc = subprocess.Popen([str(server), '-H', '127.0.0.1', '-p', str(port)],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    url = 'http://127.0.0.1:{}'.format(port)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail('moto_server exited early:\n' + log.read_text(), pytrace=False)
            try:
                socket.create_connection(('127.0.0.1', port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail('moto_server did not listen within 60 s:\n' + log.read_text(),
                                pytrace=False)
                time.sleep(0.1)
        boto3.client('s3', endpoint_url=url, region_name=REGION, aws_access_key_id=ACCESS_KEY,
                     aws_secret_access_key=SECRET_KEY).create_bucket(Bucket=BUCKET)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope='session')
def dpipe_bin():
    bin_ = os.environ.get('DPIPE_BIN') or shutil.which('dpipe')
    if not bin_ or not shutil.which(bin_):
        pytest.fail('dpipe binary not found: set DPIPE_BIN (run.sh does)', pytrace=False)
    return shutil.which(bin_)


@pytest.fixture(scope='session')
def aws_cli():
    """The AWS CLI installed in this venv (requirements.txt), never a machine-wide `aws`."""
    try:
        import awscli  # noqa: F401
    except ImportError:
        pytest.fail('awscli is not installed in this venv; rerun setup-venv.sh', pytrace=False)
    return [sys.executable, '-m', 'awscli']


# ---------------------------------------------------------------------------
# one test's world: a user, an s3 pipe on moto, a d6tpipe profile and a dpipe profile
# ---------------------------------------------------------------------------

class World:
    def __init__(self, server, s3_url, dpipe_bin, aws_cli, tmp):
        self.server, self.s3_url, self.dpipe_bin, self.aws_cli = server, s3_url, dpipe_bin, aws_cli
        self.tmp = tmp
        self.user = 'dt' + rand()
        self.pipe = 'data-' + rand()
        self.dir = 'interop-' + rand()  # the pipe's own prefix in the shared bucket
        self.prefix = 's3://{}/{}/'.format(BUCKET, self.dir)

        # d6tpipe side: its own cfg file and file repo
        self.d6t_cfg = str(tmp / 'd6tpipe-cfg.json')
        self.d6t_repo = tmp / 'd6tpipe-repo'
        d6tpipe.api.ConfigManager(profile='d6t', filecfg=self.d6t_cfg).init(
            {'server': server, 'filerepo': str(self.d6t_repo)})
        api = d6tpipe.api.APIClient(profile='d6t', filecfg=self.d6t_cfg)
        api.register(self.user, self.user + '@example.com', PASSWORD)
        r = d6tpipe.upsert_pipe(self.api(), {
            'name': self.pipe, 'protocol': 's3', 'location': BUCKET,
            'credentials': {'aws_access_key_id': ACCESS_KEY, 'aws_secret_access_key': SECRET_KEY},
            'settings': {'endpoint': s3_url, 'region': REGION},
            'options': {'dir': self.dir}})
        assert r[1]['options']['remotepath'] == self.prefix, r
        # the endpoint reaches d6tpipe (and dpipe) only through the credentials reply
        for role in ('read', 'write'):
            _, creds = self.api().cnxn.pipes._(self.pipe).credentials.get(
                query_params={'role': role})
            assert creds == {'aws_access_key_id': ACCESS_KEY, 'aws_secret_access_key': SECRET_KEY,
                             'endpoint_url': s3_url, 'region_name': REGION}, creds
        assert not any(k.startswith('AWS_ENDPOINT_URL') for k in os.environ)

        # dpipe side: a temp config file, a profile with its own repo, logged in as the same user
        self.dpipe_repo = tmp / 'dpipe-repo'
        self.dpipe_env = dict(os.environ, DPIPE_CONFIG=str(tmp / 'dpipe-config.toml'),
                              DPIPE_PASSWORD=PASSWORD)
        self.dpipe_env.pop('DPIPE_PROFILE', None)
        self.dpipe('profile', 'init', 'dp', '--server', server, '--repo', str(self.dpipe_repo))
        self.dpipe('login', '--username', self.user)

    def api(self):
        return d6tpipe.api.APIClient(profile='d6t', filecfg=self.d6t_cfg)

    def d6t_pipe(self):
        # A fresh Pipe each time: no cached scan, and d6tpipe shares one TinyDB middleware
        # between Pipe objects (protocol appendix).
        return d6tpipe.pipe.Pipe(self.api(), self.pipe)

    @property
    def d6t_folder(self):
        # d6tpipe keeps a profile's files in <filerepo>/files/<profile>/<pipe>/
        cfg = d6tpipe.api.ConfigManager(profile='d6t', filecfg=self.d6t_cfg).load()
        return Path(cfg['filerepo']) / self.pipe

    @property
    def dpipe_folder(self):
        return self.dpipe_repo / self.pipe

    def dpipe(self, *args):
        r = subprocess.run([self.dpipe_bin, *args], env=self.dpipe_env, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, 'dpipe {} exited {}\nstdout:\n{}\nstderr:\n{}'.format(
            ' '.join(args), r.returncode, r.stdout, r.stderr)
        return r.stdout

    def aws(self, *args):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith('AWS_') or k == 'AWS_CA_BUNDLE'}
        env.update(AWS_ACCESS_KEY_ID=ACCESS_KEY, AWS_SECRET_ACCESS_KEY=SECRET_KEY,
                   AWS_DEFAULT_REGION=REGION, AWS_CONFIG_FILE=os.devnull,
                   AWS_SHARED_CREDENTIALS_FILE=os.devnull)
        r = subprocess.run([*self.aws_cli, '--endpoint-url', self.s3_url, *args],
                           env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, 'aws {} exited {}\nstdout:\n{}\nstderr:\n{}'.format(
            ' '.join(args), r.returncode, r.stdout, r.stderr)
        return r.stdout

    def aws_download(self, into):
        """Everything under the pipe's prefix, downloaded with `aws s3 cp --recursive`."""
        if into.exists():
            shutil.rmtree(into)
        into.mkdir(parents=True)
        self.aws('s3', 'cp', self.prefix, str(into), '--recursive', '--no-progress')
        return into


@pytest.fixture
def world(server_url, s3_url, dpipe_bin, aws_cli, tmp_path):
    w = World(server_url, s3_url, dpipe_bin, aws_cli, tmp_path)
    yield w
    # best effort, for a long-running DPIPE_SERVER: the user goes, and its pipe with it
    try:
        w.api()._unregister(w.user)
    except Exception as e:  # noqa: BLE001
        print('cleanup: could not unregister {}: {}'.format(w.user, e))


def write(folder, files):
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def tree(folder):
    """{relative posix path: bytes} of every file under folder. Nothing is left out: dpipe
    keeps its sync state in <repo>/.dpipe and d6tpipe its db next to the pipe folders, so a
    stray temporary file in a pipe's folder fails the comparison."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob('*')) if p.is_file()}


def assert_same(got, want, where):
    assert sorted(got) == sorted(want), '{}: other files than expected'.format(where)
    for name, data in want.items():
        assert got[name] == data, '{}: {} differs ({} vs {} bytes)'.format(
            where, name, len(got[name]), len(data))


def same_size_edit(data):
    """Different bytes, same length (flips every byte of the first 64)."""
    head = bytes(b ^ 0xFF for b in data[:64])
    assert head != data[:64] and len(head + data[64:]) == len(data)
    return head + data[64:]


def sample_files(tag):
    return {
        '{}.csv'.format(tag): 'a,b\n1,{}\n'.format(tag).encode() * 50,
        'nested dir/with space/{} file.bin'.format(tag): os.urandom(70_000),
        'deep/er/{}-big.bin'.format(tag): os.urandom(BIG),
        'empty-{}.txt'.format(tag): b'',
    }


# ---------------------------------------------------------------------------
# tests
# ---------------------------------------------------------------------------

def test_dpipe_push_then_d6tpipe_and_aws_pull(world):
    files = sample_files('dp')
    write(world.dpipe_folder, files)
    world.dpipe('push', '--pipe', world.pipe)

    # the real d6tpipe client pulls exactly these files, byte-identical
    pulled = world.d6t_pipe().pull()
    assert sorted(pulled) == sorted(files)
    assert_same(tree(world.d6t_folder), files, 'd6tpipe pull after dpipe push')
    # and the AWS CLI downloads the same bytes
    assert_same(tree(world.aws_download(world.tmp / 'aws1')), files, 'aws s3 cp after dpipe push')

    # same-size edit round: dpipe pushes exactly the edited files
    changed = ['dp.csv', 'nested dir/with space/dp file.bin']
    edited = dict(files)
    for name in changed:
        edited[name] = same_size_edit(files[name])
    write(world.dpipe_folder, {name: edited[name] for name in changed})
    report = json.loads(world.dpipe('push', '--pipe', world.pipe, '--json'))
    assert sorted(m['path'] for m in report['transferred']) == changed, report

    pulled = world.d6t_pipe().pull()
    assert sorted(pulled) == changed
    assert_same(tree(world.d6t_folder), edited, 'd6tpipe pull after a same-size edit')
    assert_same(tree(world.aws_download(world.tmp / 'aws2')), edited,
                'aws s3 cp after a same-size edit')


def test_d6tpipe_and_aws_push_then_dpipe_pull(world):
    d6t_files = sample_files('d6t')
    write(world.d6t_folder, d6t_files)
    pushed = world.d6t_pipe().push()
    assert sorted(pushed) == sorted(d6t_files)

    aws_files = {
        'aws upload/sub dir/aws file.txt': b'uploaded by the AWS CLI\n' * 100,
        'aws upload/aws.bin': os.urandom(BIG),
    }
    src = world.tmp / 'aws-src'
    write(src, aws_files)
    world.aws('s3', 'cp', str(src), world.prefix, '--recursive', '--no-progress')

    world.dpipe('pull', '--pipe', world.pipe)
    everything = {**d6t_files, **aws_files}
    assert_same(tree(world.dpipe_folder), everything, 'dpipe pull after d6tpipe push + aws cp')

    # same-size edit round on both foreign sides
    d6t_pipe = world.d6t_pipe()
    d6t_pipe.pull()  # d6tpipe refuses to push while the remote has files it has not pulled
    assert_same(tree(world.d6t_folder), everything, 'd6tpipe pull of the aws uploads')
    edited = dict(everything)
    d6t_name = 'nested dir/with space/d6t file.bin'
    edited[d6t_name] = same_size_edit(everything[d6t_name])
    write(world.d6t_folder, {d6t_name: edited[d6t_name]})
    # d6tpipe's push compares with the local scan its last pull recorded, which covers only the
    # files that pull moved: its own earlier uploads count as new and go up again (d6tpipe's
    # behaviour, same bytes). The edited file must be among them.
    pushed = world.d6t_pipe().push()
    assert d6t_name in pushed

    aws_name = 'aws upload/sub dir/aws file.txt'
    edited[aws_name] = same_size_edit(everything[aws_name])
    (src / aws_name).write_bytes(edited[aws_name])
    world.aws('s3', 'cp', str(src / aws_name), world.prefix + aws_name, '--no-progress')

    report = json.loads(world.dpipe('pull', '--pipe', world.pipe, '--json'))
    moved = {m['path'] for m in report['transferred']}
    assert {d6t_name, aws_name} <= moved <= set(pushed) | {aws_name}, report
    assert_same(tree(world.dpipe_folder), edited, 'dpipe pull after same-size edits')
