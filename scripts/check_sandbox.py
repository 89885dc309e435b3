"""Run a real ingestd under the kernel-level restrictions of scripts/ingestd.service, without systemd as
PID 1: ingest, query, SIGHUP and stop it, and report whether anything broke.

What is reproduced (each inherited by the workers, as under systemd):
* NoNewPrivileges=yes — prctl(PR_SET_NO_NEW_PRIVS);
* MemoryDenyWriteExecute=yes — prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN) (Linux 6.3+; systemd 253+ uses
  it, older ones a seccomp filter with the same effect: no mapping both writable and executable, no
  executable permission added to a mapping);
* SystemCallFilter= — a libseccomp allow list built from `systemd-analyze syscall-filter` for the unit's
  groups, killing the process on any other system call (stricter than the unit's EPERM, so that nothing
  is hidden);
* RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX — socket() of any other family fails EAFNOSUPPORT;
* ProtectSystem=strict with StateDirectory=, and PrivateTmp=yes — in a mount namespace of its own, every
  file system is read-only but the data_dir (under /var/lib, like StateDirectory=), and /tmp and /var/tmp
  are empty tmpfs. (ProtectHome= is not reproduced: this interpreter may live under /root.)

Usage, as root: python scripts/check_sandbox.py [--allow @system-service] [--deny @privileged @resources]
(needs Linux 6.3+, libseccomp2 and systemd-analyze; prints the outcome, exits 0 when all went well)
"""

from __future__ import annotations

import argparse
import ctypes
import ctypes.util
import errno
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

ALLOWED_FAMILIES = (socket.AF_UNIX, socket.AF_INET, socket.AF_INET6)
PR_SET_NO_NEW_PRIVS, PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 38, 65, 1
CLONE_NEWNS, MS_RDONLY, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20000, 1, 32, 4096, 16384, 1 << 18
KERNEL_FILE_SYSTEMS = ("/proc", "/sys", "/dev", "/run", "/mnt")  # left as they are
SCMP_ACT_KILL_PROCESS, SCMP_ACT_ALLOW = 0x80000000, 0x7FFF0000
SCMP_CMP_EQ = 4


class ArgCmp(ctypes.Structure):
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


def syscall_groups() -> dict[str, list[str]]:
    text = subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True, text=True,
                          check=True).stdout
    groups: dict[str, list[str]] = {}
    current = ""
    for line in text.splitlines():
        if line.startswith("@"):
            current = line.strip()
            groups[current] = []
        elif line.strip() and not line.strip().startswith("#") and current:
            groups[current].append(line.strip())
    return groups


def expand(names: list[str], groups: dict[str, list[str]]) -> set[str]:
    found: set[str] = set()
    for name in names:
        found |= expand(groups[name], groups) if name.startswith("@") else {name}
    return found


def isolate_file_systems(state_dir: str) -> None:
    """Read-only everything but `state_dir`; fresh /tmp and /var/tmp (this process and its children)."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]

    def mount(source: str | None, target: str, kind: str | None, flags: int) -> None:
        encoded = [None if value is None else value.encode() for value in (source, target, kind)]
        if libc.mount(*encoded, flags, None) != 0:
            raise OSError(ctypes.get_errno(), f"mount {target}")

    if libc.unshare(CLONE_NEWNS) != 0:
        raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNS)")
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount(state_dir, state_dir, None, MS_BIND)
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    for point in points:
        if point != state_dir and not point.startswith(KERNEL_FILE_SYSTEMS):
            mount(None, point, None, MS_BIND | MS_REMOUNT | MS_RDONLY)
    for private in ("/tmp", "/var/tmp"):
        mount("tmpfs", private, "tmpfs", 0)


def confine(allowed: set[str]) -> None:
    """Apply NoNewPrivileges, MDWE and the seccomp allow list to this process (and its children)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_MDWE (needs Linux 6.3+)")
    seccomp = ctypes.CDLL(ctypes.util.find_library("seccomp") or "libseccomp.so.2")
    seccomp.seccomp_init.restype = ctypes.c_void_p
    seccomp.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    seccomp.seccomp_rule_add_array.argtypes = [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                               ctypes.POINTER(ArgCmp)]
    seccomp.seccomp_load.argtypes = [ctypes.c_void_p]
    context = seccomp.seccomp_init(SCMP_ACT_KILL_PROCESS)
    for name in sorted(allowed - {"socket"}):
        number = seccomp.seccomp_syscall_resolve_name(name.encode())
        if number >= 0 and seccomp.seccomp_rule_add_array(context, SCMP_ACT_ALLOW, number, 0, None) != 0:
            raise OSError(f"cannot allow {name}")
    socket_nr = seccomp.seccomp_syscall_resolve_name(b"socket")
    refuse = 0x00050000 | errno.EAFNOSUPPORT  # SCMP_ACT_ERRNO(EAFNOSUPPORT)
    for family in range(64):
        action = SCMP_ACT_ALLOW if family in ALLOWED_FAMILIES else refuse
        condition = ArgCmp(0, SCMP_CMP_EQ, family, 0)
        if seccomp.seccomp_rule_add_array(context, action, socket_nr, 1, ctypes.byref(condition)) != 0:
            raise OSError(f"cannot add the socket rule for family {family}")
    if seccomp.seccomp_load(context) != 0:
        raise OSError("seccomp_load failed")


def exercise(allowed: set[str]) -> int:
    """Start a broker and a confined server; ingest, query, SIGHUP, SIGTERM. 0 when all went well."""
    from ingestd.devtools.local_broker import KafkaBroker
    from ingestd.devtools.polling import wait_until
    from ingestd.devtools.seed import student_record
    from ingestd.devtools.server_process import IngestdServer
    from tests.support.tables import create_table

    kafka = KafkaBroker.start()
    workdir = Path(tempfile.mkdtemp(prefix="ingestd-sandbox-", dir="/var/lib"))  # the "StateDirectory"
    server = IngestdServer(workdir, workers=2, toml={"log": {"format": "json"}})
    allow_file = workdir / "allowed.txt"
    allow_file.write_text("\n".join(sorted(allowed)))
    try:
        with open(server.log, "ab") as log:
            server.process = subprocess.Popen(
                [sys.executable, __file__, "--confined-exec", str(allow_file), str(workdir)],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(server._healthy, timeout_s=60, what=f"/health (log: {server.log})")
        create_table(server, kafka, "sandbox", 2, **{
            "realtime.segment.flush.threshold.rows": "5000",
            "stream.kafka.consumer.prop.auto.offset.reset": "smallest"})
        kafka.publish("sandbox", (student_record(i) for i in range(20_000)), partitions=2)
        wait_until(lambda: server.count("sandbox") == 20_000, timeout_s=60, what="20,000 rows")
        for sql in ("SELECT subject, COUNT(*), AVG(score), MAX(timestamp) FROM sandbox GROUP BY subject",
                    "SELECT firstName, score FROM sandbox ORDER BY score DESC, firstName LIMIT 5",
                    "SELECT COUNT(DISTINCT firstName) FROM sandbox WHERE score > 1"):
            answer = server.query(sql)
            if answer.get("exceptions"):
                raise AssertionError(f"{sql}: {answer['exceptions']}")
        os.killpg(server.process.pid, signal.SIGHUP)
        wait_until(lambda: "received SIGHUP" in server.log.read_text(), what="SIGHUP logged")
        os.killpg(server.process.pid, signal.SIGTERM)
        code = server.process.wait(60)
        text = server.log.read_text()
        problems = [line for line in text.splitlines() if '"level":"ERROR"' in line or "Traceback" in line]
        print(f"exit code {code}; {len(problems)} error line(s)")
        for line in problems[:20]:
            print("  " + line[:300])
        return 0 if code == 0 and not problems else 1
    finally:
        server.kill9()
        kafka.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--allow", nargs="*", default=["@system-service"])
    parser.add_argument("--deny", nargs="*", default=["@privileged", "@resources"])
    parser.add_argument("--confined-exec", nargs=2, metavar=("ALLOWED_FILE", "STATE_DIR"),
                        help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.confined_exec:
        allow_file, state_dir = args.confined_exec
        allowed = set(Path(allow_file).read_text().split())
        isolate_file_systems(state_dir)
        confine(allowed)
        os.environ["PYTHONDONTWRITEBYTECODE"] = "1"  # as the unit sets it
        os.execv(sys.executable, [sys.executable, "-m", "ingestd", "start", "--config",
                                  str(Path(state_dir) / "ingestd.toml")])
    groups = syscall_groups()
    allowed = expand(args.allow, groups) - expand(args.deny, groups)
    print(f"allowing {len(allowed)} system calls: {' '.join(args.allow)} minus {' '.join(args.deny)}")
    return exercise(allowed)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
