"""Data-plane interoperability over SFTP with a password, as data vendors run it (the seed's
"sftp: username, password"): `dpipe push` then the real d6tpipe 1.2.7 client pulls, and the
reverse, through one sshd and the dpipe server under test.

d6tpipe connects to the pipe's `location` on port 22 (d6tpipe/pipe.py `_connect`: it passes no
port to pysftp), so this sshd must listen on 127.0.0.1:22. run.sh runs this file in a network
namespace of its own (`unshare --net`, loopback only, with a dpipe server started inside), so
port 22 is free whatever the machine runs. It needs root (sshd, and a Unix user with a password).

Every comparison is on bytes.
"""
import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

import d6tpipe
import d6tpipe.api
import d6tpipe.pipe

PASSWORD = 'pw-Secret-123'
SFTP_USER = 'dpipe-d6t'
SFTP_PASSWORD = 'dpipe-d6t-sftp-password-1'
SSHD = '/usr/sbin/sshd'


def rand(n=4):
    return secrets.token_hex(n)


@pytest.fixture(scope='module')
def sshd(tmp_path_factory):
    """sshd on 127.0.0.1:22 with password logins for SFTP_USER; yields the user's home."""
    if os.geteuid() != 0:
        pytest.fail('the SFTP interop test runs as root (sshd, a user with a password)', pytrace=False)
    with socket.socket() as s:
        if s.connect_ex(('127.0.0.1', 22)) == 0:
            pytest.fail('127.0.0.1:22 is taken: run this file through tests/d6tpipe/run.sh, '
                        'which gives it a network namespace of its own', pytrace=False)
    if not os.path.exists(SSHD):
        pytest.fail('sshd is missing: run `bash scripts/install-test-services.sh`', pytrace=False)
    if subprocess.run(['id', SFTP_USER], capture_output=True).returncode != 0:
        subprocess.run(['useradd', '-m', '-s', '/bin/bash', SFTP_USER], check=True)
    subprocess.run(['chpasswd'], input='{}:{}\n'.format(SFTP_USER, SFTP_PASSWORD).encode(), check=True)
    home = Path(os.path.expanduser('~' + SFTP_USER))
    conf = tmp_path_factory.mktemp('sshd')
    subprocess.run(['ssh-keygen', '-q', '-t', 'ed25519', '-N', '', '-f', str(conf / 'host')], check=True)
    (conf / 'sshd_config').write_text('\n'.join([
        'Port 22', 'ListenAddress 127.0.0.1', 'HostKey {}/host'.format(conf),
        'PidFile {}/sshd.pid'.format(conf), 'UsePAM no', 'PasswordAuthentication yes',
        'KbdInteractiveAuthentication no', 'PubkeyAuthentication no', 'PermitRootLogin no',
        'AllowUsers ' + SFTP_USER, 'Subsystem sftp internal-sftp', '']))
    os.makedirs('/run/sshd', exist_ok=True)
    log = open(conf / 'sshd.log', 'wb')
    proc = subprocess.Popen([SSHD, '-D', '-e', '-f', str(conf / 'sshd_config')],
                            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            if proc.poll() is not None:
                pytest.fail('sshd exited early:\n' + (conf / 'sshd.log').read_text(), pytrace=False)
            try:
                socket.create_connection(('127.0.0.1', 22), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail('sshd did not listen within 20 s', pytrace=False)
                time.sleep(0.05)
        yield home
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


@pytest.fixture(scope='module')
def dpipe_bin():
    bin_ = os.environ.get('DPIPE_BIN') or shutil.which('dpipe')
    if not bin_ or not shutil.which(bin_):
        pytest.fail('dpipe binary not found: set DPIPE_BIN (run.sh does)', pytrace=False)
    return shutil.which(bin_)


class World:
    """A user, an sftp pipe with a password on the sshd, a d6tpipe and a dpipe profile."""

    def __init__(self, server, home, dpipe_bin, tmp):
        self.dpipe_bin, self.tmp = dpipe_bin, tmp
        self.user, self.pipe = 'ds' + rand(), 'sftp-' + rand()
        self.remote = home / ('d6t-' + rand())
        self.remote.mkdir()
        shutil.chown(self.remote, SFTP_USER)
        self.d6t_cfg = str(tmp / 'd6tpipe-cfg.json')
        d6tpipe.api.ConfigManager(profile='d6t', filecfg=self.d6t_cfg).init(
            {'server': server, 'filerepo': str(tmp / 'd6tpipe-repo')})
        self.api().register(self.user, self.user + '@example.com', PASSWORD)
        r = d6tpipe.upsert_pipe(self.api(), {
            'name': self.pipe, 'protocol': 'sftp', 'location': '127.0.0.1',
            'credentials': {'username': SFTP_USER, 'password': SFTP_PASSWORD},
            'options': {'dir': str(self.remote)}})
        assert r[1]['options']['remotepath'] == str(self.remote) + '/', r

        self.dpipe_repo = tmp / 'dpipe-repo'
        self.dpipe_env = dict(os.environ, DPIPE_CONFIG=str(tmp / 'dpipe-config.toml'),
                              DPIPE_PASSWORD=PASSWORD)
        self.dpipe_env.pop('DPIPE_PROFILE', None)
        self.dpipe('profile', 'init', 'dp', '--server', server, '--repo', str(self.dpipe_repo))
        self.dpipe('login', '--username', self.user)

    def api(self):
        return d6tpipe.api.APIClient(profile='d6t', filecfg=self.d6t_cfg)

    def d6t_pipe(self):
        return d6tpipe.pipe.Pipe(self.api(), self.pipe)

    @property
    def d6t_folder(self):
        cfg = d6tpipe.api.ConfigManager(profile='d6t', filecfg=self.d6t_cfg).load()
        return Path(cfg['filerepo']) / self.pipe

    def dpipe(self, *args):
        r = subprocess.run([self.dpipe_bin, *args], env=self.dpipe_env, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, 'dpipe {} exited {}\nstdout:\n{}\nstderr:\n{}'.format(
            ' '.join(args), r.returncode, r.stdout, r.stderr)
        return r.stdout


@pytest.fixture
def world(server_url, sshd, dpipe_bin, tmp_path):
    return World(server_url, sshd, dpipe_bin, tmp_path)


def write(folder, files):
    for name, data in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def tree(folder):
    """{relative posix path: bytes} of every file under folder (dpipe's state lives in
    <repo>/.dpipe, outside the pipe's folder)."""
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob('*')) if p.is_file()}


def sample_files(tag):
    return {
        '{}.csv'.format(tag): 'a,b\n1,{}\n'.format(tag).encode() * 50,
        'nested dir/{} file.bin'.format(tag): os.urandom(70_000),
        'deep/er/{}-big.bin'.format(tag): os.urandom(9 * 2 ** 20),
    }


def test_dpipe_pushes_over_sftp_with_a_password_and_d6tpipe_pulls(world):
    files = sample_files('dp')
    write(world.dpipe_repo / world.pipe, files)
    world.dpipe('push', world.pipe)
    assert tree(world.remote) == files, 'the SFTP folder holds exactly what dpipe pushed'

    pulled = world.d6t_pipe().pull()
    assert sorted(pulled) == sorted(files)
    assert tree(world.d6t_folder) == files


def test_d6tpipe_pushes_over_sftp_with_a_password_and_dpipe_pulls(world):
    files = sample_files('d6')
    write(world.d6t_folder, files)
    pushed = world.d6t_pipe().push()
    assert sorted(pushed) == sorted(files)
    assert tree(world.remote) == files

    world.dpipe('pull', world.pipe)
    assert tree(world.dpipe_repo / world.pipe) == files
