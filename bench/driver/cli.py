"""What the command-line entry points (drive.py, storm.py) share: the log,
the base URL argument, and the check that wrk is there."""
import os
import shutil
import sys


def log(message):
    print(message, file=sys.stderr, flush=True)


def base_url(argv, doc):
    """(None, the URL): the one argument, else BASE_URL, else PORT on
    loopback; or (an exit status, None) after printing `doc` for -h or a
    wrong number of arguments."""
    if len(argv) > 2 or (len(argv) == 2 and argv[1] in ("-h", "--help")):
        print(doc)
        return (0 if len(argv) == 2 else 2), None
    default_url = f"http://127.0.0.1:{os.environ.get('PORT', '8001')}"
    return None, (argv[1] if len(argv) == 2 else os.environ.get("BASE_URL", default_url))


def have_wrk(name):
    if shutil.which("wrk"):
        return True
    log(f"{name}: wrk is not installed (apt-get install -y wrk)")
    return False
