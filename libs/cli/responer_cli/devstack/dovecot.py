"""A private dovecot IMAP server: plaintext logins from a passwd-file, maildir under a state dir.

Mail is stored as uid 65534 (dovecot refuses to deliver as root), so the state dir must be traversable
by that user. Nothing is shared with a system-wide dovecot: own base_dir, own config, own port.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

from responer_cli.devstack.net import free_port, make_traversable, port_open, tail, wait_for_port

MAIL_UID = 65534
MAIL_GID = 65534


class DovecotMissing(RuntimeError):
    """dovecot is not installed (`make install` installs dovecot-imapd)."""


def dovecot_binary() -> str:
    found = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
    if not found:
        raise DovecotMissing("dovecot is not installed; run `make install` (apt-get install dovecot-imapd)")
    return found


def stable_port(state_file: Path, preferred: int | None = None) -> int:
    """The port used last time (if still free), else `preferred` if free, else a new free one; remembered."""
    for candidate in (_read_int(state_file), preferred):
        if candidate and not port_open("127.0.0.1", candidate, timeout=0.2):
            port = candidate
            break
    else:
        port = free_port()
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(str(port))
    return port


def _read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


class Dovecot:
    def __init__(self, state_dir: Path | str, port: int | None = None, host: str = "127.0.0.1") -> None:
        self.root = Path(state_dir).resolve() / "dovecot"
        self.host = host
        self._requested_port = port
        self.port = port or 0
        self.users: dict[str, str] = {}
        self.passwd_dir = self.root / "passwd.d"
        self.config_file = self.root / "dovecot.conf"
        self.log_file = self.root / "dovecot.log"
        self.mail_dir = self.root / "mail"
        self.run_dir = self.root / "run"
        self._proc: subprocess.Popen | None = None

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self, timeout: float = 20.0) -> Dovecot:
        binary = dovecot_binary()
        self.root.mkdir(parents=True, exist_ok=True)
        make_traversable(self.root)
        self._stop_stale()
        self.mail_dir.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            os.chown(self.mail_dir, MAIL_UID, MAIL_GID)
        else:
            self.mail_dir.chmod(0o777)
        (self.root / "state").mkdir(exist_ok=True)
        self.port = self._requested_port or stable_port(self.root / "port")
        self._load_users()
        self._write_config()
        # -F keeps the master in the foreground as our child, so we reap it (no zombie under a PID 1
        # that does not reap); its stderr goes to a file because dovecot keeps the caller's stderr open.
        with open(self.root / "stderr.log", "ab") as err:
            self._proc = subprocess.Popen(
                [binary, "-F", "-c", str(self.config_file)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=err,
                start_new_session=True,
            )
        proc = self._proc
        if not wait_for_port(self.host, self.port, timeout, alive=lambda: proc.poll() is None):
            self.stop()
            raise RuntimeError(
                f"dovecot did not start on {self.host}:{self.port}:\n"
                f"{tail(self.root / 'stderr.log', 20)}\n{tail(self.log_file, 20)}"
            )
        return self

    def stop(self, grace: float = 1.0) -> None:
        """SIGTERM the master; after `grace` SIGKILL it and its children.

        dovecot's `log` child lingers for seconds after SIGTERM waiting for clients that are gone
        already, so waiting for a clean exit would only slow every test session down.
        """
        pid = self._master_pid()
        if pid is None:
            return
        family = [pid, *_children(pid)]
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_alive(p) for p in family):
            time.sleep(0.05)
        for p in family:
            if _alive(p):
                try:
                    os.kill(p, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(_alive(p) for p in family):
            if self._proc is not None:
                self._proc.poll()  # reap our child so it stops counting as alive
            time.sleep(0.02)
        self._proc = None

    def _stop_stale(self) -> None:
        """A previous run's dovecot (killed supervisor) still holding this state dir is stopped first."""
        if self._master_pid() is not None:
            self.stop()

    def _master_pid(self) -> int | None:
        pid = _read_int(self.run_dir / "master.pid")
        return pid if pid and _alive(pid) else None

    @property
    def running(self) -> bool:
        return self._master_pid() is not None

    # -- users ---------------------------------------------------------------------------------------
    def add_user(self, user: str, password: str) -> None:
        """Create a login or change its password.

        One passwd-file per user (`args = .../%u`): dovecot re-reads a passwd-file at most once per
        second, so with a single shared file a user added right after another login stays unknown for up
        to a second. A new user's file has never been read, so the login works at once.
        """
        for value in (user, password):
            if ":" in value or "\n" in value or "/" in value:
                raise ValueError("user and password may not contain ':', '/' or newlines")
        changed = user in self.users and self.users[user] != password
        self.users[user] = password
        self._write_passwd(user)
        if changed:
            time.sleep(1.05)  # let dovecot's once-per-second re-read see the new password

    def _load_users(self) -> None:
        for path in self.passwd_dir.glob("*"):
            user, _, rest = path.read_text().partition(":")
            if user and user not in self.users:
                self.users[user] = rest.split(":", 1)[0]

    def _write_passwd(self, user: str) -> None:
        self.passwd_dir.mkdir(parents=True, exist_ok=True)
        path = self.passwd_dir / user
        tmp = path.with_name(f".{user}.tmp")
        tmp.write_text(f"{user}:{self.users[user]}::::::\n")
        tmp.chmod(0o644)
        os.replace(tmp, path)

    def _write_config(self) -> None:
        r = self.root
        self.config_file.write_text(
            f"""# Generated by responer_cli.devstack.dovecot; rewritten at every start.
base_dir = {self.run_dir}
state_dir = {r / "state"}
instance_name = responer-{self.port}
listen = {self.host}
protocols = imap
log_path = {self.log_file}
info_log_path = {self.log_file}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:~/Maildir
mail_fsync = never
imap_idle_notify_interval = 1 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.passwd_dir}/%u
}}
userdb {{
  driver = static
  args = uid={MAIL_UID} gid={MAIL_GID} home={self.mail_dir}/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = subscribe
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = {self.host}
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
# No auth penalty: a test that logs in with a wrong password must not slow every later login from
# 127.0.0.1 (anvil's penalty doubles up to 15 s); auth disables it when it cannot reach this socket.
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
"""
        )

    # -- mail ----------------------------------------------------------------------------------------
    def client(self, user: str, password: str):
        from imapclient import IMAPClient

        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        client.login(user, password)
        return client

    def append(self, user: str, password: str, raw: bytes, folder: str = "INBOX", flags=()) -> int:
        """APPEND a raw message; returns its UID."""
        return imap_append(self.host, self.port, user, password, raw, folder, flags)

    def count(self, user: str, password: str, folder: str = "INBOX") -> int:
        with self.client(user, password) as c:
            return int(c.folder_status(folder, ["MESSAGES"])[b"MESSAGES"])


def imap_append(
    host: str, port: int, user: str, password: str, raw: bytes, folder: str = "INBOX", flags=()
) -> int:
    from imapclient import IMAPClient

    with IMAPClient(host, port=port, ssl=False, timeout=10) as c:
        c.login(user, password)
        if folder.upper() != "INBOX" and not c.folder_exists(folder):
            c.create_folder(folder)
        answer = c.append(folder, raw, flags=flags)
    # b"[APPENDUID 1700000000 7] Append completed."
    text = answer.decode() if isinstance(answer, bytes) else str(answer)
    if "APPENDUID" not in text:
        raise RuntimeError(f"server did not answer APPENDUID: {text!r}")
    return int(text.split("APPENDUID", 1)[1].split("]", 1)[0].split()[1])


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            # "pid (comm) state ppid ...": comm may contain spaces, so split after the last ')'
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                kids.append(int(entry.name))
    return kids


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                return False
    except OSError:
        return False
    return True
