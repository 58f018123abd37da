"""Test-time shims and fixtures for running the real d6tpipe 1.2.7 client.

Everything at module level here runs before pytest imports the test module,
and so before anything imports d6tcollect or d6tpipe. That ordering matters:
d6tcollect reads D6TCOLLECT_SVR and creates ~/.d6tcollect/ at import time.

Three compatibility shims (see the appendix of d6tpipe-protocol.md); none of
them touches a code path of the client that speaks the protocol:
  1. luigi.file: luigi 3 dropped it. setup-venv.sh adds luigi/file.py to the
     venv; the fallback below covers a venv built some other way.
  2. yaml.load() without Loader (d6tpipe.utils.loadyaml, used by loadjson and
     upsert_pipe_json) is refused by PyYAML 6: default the Loader.
  3. d6tcollect telemetry: point it at a dead local port and switch it off.
"""
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import warnings

import pytest

# luigi 3.8 warns at import about a config default we do not care about.
warnings.filterwarnings('ignore', message=r'\s*Autoloading range tasks', category=DeprecationWarning)

# --- isolation: never write into the real home directory ------------------
# d6tcollect keeps an sqlite file in ~/.d6tcollect and d6tpipe's default
# profile paths are under ~/d6tpipe. The tests pass explicit temp paths for
# profiles, and this throwaway HOME catches anything else (boto3's ~/.aws too).
_FAKE_HOME = tempfile.mkdtemp(prefix='dpipe-d6tpipe-home-')
os.environ['HOME'] = _FAKE_HOME

# --- shim 3/3: d6tcollect ---------------------------------------------------
# Port 9 (discard) on loopback: a connection is refused at once, nothing leaves
# the machine even if a submit slipped through.
os.environ['D6TCOLLECT_SVR'] = 'http://127.0.0.1:9'
import d6tcollect  # noqa: E402

d6tcollect.submit = False

# --- shim 2/3: yaml.load without Loader --------------------------------------
import yaml  # noqa: E402

_yaml_load = yaml.load


def _yaml_load_default_loader(stream, Loader=None):
    # FullLoader was PyYAML 5.x's default, which is what d6tpipe was written for.
    return _yaml_load(stream, Loader=Loader or yaml.FullLoader)


yaml.load = _yaml_load_default_loader

# --- shim 1/3: luigi.file (fallback only) -------------------------------------
try:
    import luigi.file  # noqa: F401
except ImportError:
    import luigi
    import luigi.local_target

    sys.modules['luigi.file'] = luigi.local_target
    luigi.file = luigi.local_target


def pytest_unconfigure(config):
    shutil.rmtree(_FAKE_HOME, ignore_errors=True)


@pytest.fixture(scope='session')
def server_url():
    """Base URL of the dpipe server under test, from $DPIPE_SERVER.

    Fails (not skips) when unset or unreachable, so a misconfigured run can
    never pass green without having tested anything.
    """
    url = os.environ.get('DPIPE_SERVER', '').strip().rstrip('/')
    if not url:
        pytest.fail('DPIPE_SERVER is not set (e.g. DPIPE_SERVER=http://127.0.0.1:8000); '
                    'use tests/d6tpipe/run.sh to start a server automatically', pytrace=False)
    try:
        # Any HTTP answer (even 401) proves the server is up.
        urllib.request.urlopen(url + '/v1/api/', timeout=10).close()
    except urllib.error.HTTPError:
        pass
    except OSError as e:
        pytest.fail('dpipe server at {} is not reachable: {}'.format(url, e), pytrace=False)
    return url
