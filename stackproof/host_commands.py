"""Host commands in the readonly tier: only commands that read get to run.

Checks reach hosts through testinfra, and every command a testinfra host runs, its own modules' included
(file, interface, service, process, socket, package, user, mount_point ...), goes through its backend's
`run`. `guard()` puts a check in front of it: in the readonly tier (see `stackproof.safety`) a command runs only
when every stage of it is a reading program of `READERS` with arguments that keep it reading, and it carries no
shell syntax that could chain or hide a write (`;`, `&&`, `||`, `&`, command substitution, subshells, newlines,
output redirected anywhere but /dev/null or another descriptor). A pipe between readers and input redirection
are reads. Disruptive and workload checks keep the full host.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from stackproof import safety


class NotReading(Exception):
    """Why a command is not a reading command."""


@dataclass(frozen=True)
class Reader:
    """How a program stays a reader: which subcommands, which words make it write, which options take a value."""

    # The first operand (the first word that is no option) must be one of these.
    subcommands: frozenset[str] | None = None
    # Words (options or operands) that make the program write or act; `--opt=value` and `-xVALUE` forms too.
    forbidden: frozenset[str] = frozenset()
    # Options whose value is the next word (so that the value is not taken for the subcommand).
    valued: frozenset[str] = frozenset()
    # At most this many operands (`uniq IN OUT` writes OUT; `hostname NAME` renames the host).
    max_operands: int | None = None
    # A program-specific rule over all its words; returns why it is not reading, or None.
    custom: Callable[[list[str]], str | None] | None = None


def _words(*names: str) -> frozenset[str]:
    return frozenset(names)


ANY = Reader()

_IP_WRITES = ("add", "del", "delete", "set", "change", "replace", "flush", "append", "prepend", "exec", "save",
              "restore", "attach", "detach", "update", "create", "destroy")
_IP_READS = frozenset({"show", "list", "ls", "lst", "get", "help"})
_IP_VALUED = frozenset({"-n", "-netns", "-f", "-family", "-rc", "-rcvbuf", "-l", "-loops"})


def _ip(words: list[str]) -> str | None:
    """`ip [options] OBJECT [COMMAND ...]` (and bridge): the command must not be, or abbreviate, a write."""
    if any(w in ("-b", "-batch", "-force") for w in words):
        return "ip -batch runs commands from a file"
    operands, skip = [], False
    for word in words:
        if skip:
            skip = False
        elif word in _IP_VALUED:
            skip = True
        elif not word.startswith("-"):
            operands.append(word)
    action = operands[1] if len(operands) > 1 else "show"
    if action not in _IP_READS and any(write.startswith(action) for write in _IP_WRITES):
        return f"ip {operands[0]} {action} changes something"
    return None


def _iptables(words: list[str]) -> str | None:
    """iptables reads with -S or -L, and no rule or chain command anywhere in its (possibly combined) flags."""
    short = "".join(w[1:] for w in words if w.startswith("-") and not w.startswith("--"))
    if set(short) & set("AIDRFZNXPE"):
        return "iptables with a rule or chain command changes something"
    if any(w in ("-S", "--list-rules", "-L", "--list") for w in words) or set(short) & {"S", "L"}:
        return None
    return "iptables reads only with -S or -L"


def _curl(words: list[str]) -> str | None:
    """curl reads when it sends no body, no method but GET/HEAD, and writes its output nowhere but /dev/null."""
    sends = ("-d", "--data", "--data-binary", "--data-raw", "--data-urlencode", "--json", "-F", "--form",
             "--form-string", "-T", "--upload-file", "-K", "--config", "-c", "--cookie-jar", "-O", "--remote-name",
             "--remote-name-all", "--create-dirs", "-J", "--remote-header-name")
    for index, word in enumerate(words):
        name, _, inline = word.partition("=") if word.startswith("--") else (word, "", "")
        following = words[index + 1] if index + 1 < len(words) else ""
        if name in sends or any(word.startswith(s + "=") for s in sends if s.startswith("--")):
            return f"curl {name} sends or stores data"
        if name in ("-X", "--request") or (word.startswith("-X") and len(word) > 2):
            method = inline or (word[2:] if word.startswith("-X") and len(word) > 2 else following)
            if method.upper() not in safety.READ_METHODS:
                return f"curl {name} {method}: not a read"
        if name in ("-o", "--output", "-D", "--dump-header") or (word.startswith("-o") and len(word) > 2):
            target = inline or (word[2:] if word.startswith("-o") and len(word) > 2 else following)
            if target not in ("/dev/null", "-"):
                return f"curl {name} {target}: writes a file"
    return None


# The reading programs. Anything not named here does not run in a readonly check.
READERS: dict[str, Reader] = {
    **{name: ANY for name in (
        "cat", "head", "tail", "grep", "egrep", "fgrep", "zgrep", "zcat", "cut", "wc", "tr", "test", "[",
        "stat", "ls", "readlink", "realpath", "file", "basename", "dirname", "sha1sum", "sha256sum", "sha512sum",
        "md5sum", "md5", "sha256", "cksum", "du", "df", "lsblk", "blkid", "findmnt", "lsmod", "modinfo",
        "lscpu", "lspci", "free", "nproc", "uptime", "uname", "whoami", "id", "groups", "getent", "printenv",
        "lsb_release", "sw_vers", "ps", "pgrep", "pidof", "ss", "netstat", "true", "false", "echo", "printf",
        "which", "type", "dpkg-query", "lsof", "vgs", "pvs", "lvs", "showmount", "dig", "nslookup", "ping",
        "lsattr", "getfacl", "whereis", "locale",
    )},
    "ifconfig": Reader(max_operands=1),  # `ifconfig eth0 mtu 9000` sets
    "route": Reader(forbidden=_words("add", "del", "-A", "-F")),
    "arp": Reader(forbidden=_words("-d", "--delete", "-s", "--set", "-f", "--file")),
    "ss": Reader(forbidden=_words("-K", "--kill")),
    "file": Reader(forbidden=_words("-C", "--compile")),
    "service": Reader(custom=lambda words: None if words and words[-1] in ("status", "onestatus", "-e",
                                                                          "--status-all") else
                      "service reads only with status"),
    "command": Reader(custom=lambda words: None if words[:1] in (["-v"], ["-V"]) else "`command` runs a command"),
    "sort": Reader(forbidden=_words("-o", "--output")),
    "uniq": Reader(max_operands=1),
    "find": Reader(forbidden=_words("-delete", "-exec", "-execdir", "-ok", "-okdir", "-fprint", "-fprint0",
                                    "-fprintf", "-fls")),
    "hostname": Reader(max_operands=0, forbidden=_words("-F", "--file", "-b", "--boot")),
    "date": Reader(forbidden=_words("-s", "--set")),
    "sysctl": Reader(forbidden=_words("-w", "--write", "-p", "--load", "--system"),
                     custom=lambda words: "sysctl name=value sets a value" if any("=" in w and not w.startswith("-")
                                                                                  for w in words) else None),
    "mount": Reader(max_operands=0, forbidden=_words("-a", "--all", "-o", "--options", "-B", "--bind", "-M",
                                                     "--move", "--make-shared", "--make-private")),
    "ip": Reader(custom=_ip),
    "bridge": Reader(custom=_ip),
    "systemctl": Reader(
        subcommands=_words("show", "status", "is-active", "is-enabled", "is-failed", "is-system-running",
                           "list-units", "list-unit-files", "list-sockets", "list-timers", "list-dependencies",
                           "cat", "get-default", "show-environment", "list-jobs"),
        valued=_words("-p", "--property", "-t", "--type", "--state", "-H", "--host", "-M", "--machine", "-n",
                      "--lines", "-o", "--output")),
    "systemd-analyze": Reader(subcommands=_words("verify", "time", "blame", "critical-chain", "dump", "cat-config",
                                                 "security", "unit-paths")),
    "journalctl": Reader(forbidden=_words("--rotate", "--vacuum-size", "--vacuum-time", "--vacuum-files", "--flush",
                                          "--sync", "--relinquish-var", "--smart-relinquish-var", "--setup-keys",
                                          "--update-catalog")),
    "hostnamectl": Reader(subcommands=_words("status", "hostname")),
    "timedatectl": Reader(subcommands=_words("status", "show", "timesync-status", "show-timesync")),
    "chronyc": Reader(subcommands=_words("tracking", "sources", "sourcestats", "activity", "ntpdata")),
    "dmesg": Reader(forbidden=_words("-c", "--read-clear", "-C", "--clear", "-D", "--console-off", "-E",
                                     "--console-on", "-n", "--console-level")),
    "rpm": Reader(custom=lambda words: None if any(w.startswith("-q") or w == "--query" for w in words)
                  and not any(w in ("-e", "--erase", "-i", "--install", "-U", "--upgrade", "-F", "--freshen")
                              for w in words) else "rpm reads only with -q"),
    "dpkg": Reader(custom=lambda words: None if words and words[0] in (
        "-l", "--list", "-s", "--status", "-L", "--listfiles", "-S", "--search", "-p", "--print-avail",
        "--print-architecture", "--get-selections") else "dpkg reads only with -l, -s, -L, -S"),
    "apk": Reader(subcommands=_words("info", "list", "version", "policy")),
    "pacman": Reader(custom=lambda words: None if words and words[0].startswith("-Q") else "pacman reads with -Q"),
    "iptables": Reader(custom=_iptables),
    "ip6tables": Reader(custom=_iptables),
    "iptables-save": Reader(forbidden=_words("-f", "--file")),
    "ip6tables-save": Reader(forbidden=_words("-f", "--file")),
    "nft": Reader(subcommands=_words("list"), valued=_words("-f", "--file", "-I", "--includepath")),
    "ethtool": Reader(forbidden=_words("-s", "--change", "-K", "--features", "--offload", "-G", "--set-ring",
                                       "-A", "--pause", "-C", "--coalesce", "-L", "--set-channels", "-E",
                                       "--change-eeprom", "-r", "--negotiate", "-p", "--identify", "-f",
                                       "--flash", "-W", "--set-dump", "-X", "--set-rxfh-indir", "-U",
                                       "--config-nfc", "-N", "--config-ntuple", "--set-eee", "--set-fec",
                                       "--set-priv-flags", "--reset", "-t", "--test")),
    "virsh": Reader(subcommands=_words("list", "dominfo", "dumpxml", "domblklist", "domiflist", "domstate",
                                       "nodeinfo", "capabilities", "version", "vol-list", "pool-list", "net-list",
                                       "domblkinfo", "vcpuinfo", "hostname", "sysinfo", "domifaddr", "uri"),
                    valued=_words("-c", "--connect")),
    "ovs-vsctl": Reader(subcommands=_words("show", "list", "get", "list-br", "list-ports", "find", "br-exists",
                                           "port-to-br", "iface-to-br", "list-ifaces")),
    "ovs-ofctl": Reader(subcommands=_words("show", "dump-flows", "dump-ports", "dump-ports-desc", "dump-tables")),
    "docker": Reader(subcommands=_words("inspect", "ps", "images", "version", "info", "logs", "top", "port")),
    "podman": Reader(subcommands=_words("inspect", "ps", "images", "version", "info", "logs", "top", "port")),
    "openssl": Reader(subcommands=_words("s_client", "x509", "version", "verify")),
    "qemu-img": Reader(subcommands=_words("info", "measure", "map", "compare")),
    "multipath": Reader(custom=lambda words: None if words and all(w in ("-ll", "-l", "-v0", "-v1", "-v2", "-v3")
                                                                   for w in words) else "multipath reads with -l/-ll"),
    "iscsiadm": Reader(forbidden=_words("-l", "--login", "-u", "--logout", "-o", "--op", "-n", "--name", "-v",
                                        "--value", "-R", "--rescan", "-L", "--loginall", "-U", "--logoutall")),
    "curl": Reader(custom=_curl),
    "nc": Reader(custom=lambda words: None if "-z" in words or any(w.startswith("-") and "z" in w for w in words)
                 else "nc without -z sends data"),
}

# Programs that run the rest of their words as a command: that command must read too.
WRAPPERS: dict[str, frozenset[str]] = {
    "sudo": _words("-u", "--user", "-g", "--group"),
    "timeout": _words("-s", "--signal", "-k", "--kill-after"),
    "env": _words("-u", "--unset"),
    "nice": _words("-n", "--adjustment"),
}

_CHAINING = {";": "`;`", "&": "`&`", "\n": "a newline", "`": "command substitution", "(": "a subshell",
             ")": "a subshell"}
_OUTPUT_SINKS = ("/dev/null",)


def stages(command: str) -> list[list[str]]:
    """The words of each stage of a pipeline, quotes removed, redirections checked and dropped.

    Raises NotReading for shell syntax that could chain, hide or redirect a write.
    """
    result: list[list[str]] = []
    words: list[str] = []
    word: list[str] = []
    started = False
    i, n = 0, len(command)

    def end_word() -> None:
        nonlocal started
        if started:
            words.append("".join(word))
        word.clear()
        started = False

    def redirect_target(at: int) -> tuple[str, int]:
        while at < n and command[at] in " \t":
            at += 1
        start = at
        while at < n and command[at] not in " \t|;&<>()\n":
            at += 1
        return command[start:at].strip("'\""), at

    while i < n:
        ch = command[i]
        if ch == "'":
            end = command.find("'", i + 1)
            if end < 0:
                raise NotReading("an unbalanced quote")
            word.append(command[i + 1:end])
            started, i = True, end + 1
        elif ch == '"':
            j, buffer = i + 1, []
            while j < n and command[j] != '"':
                if command[j] == "`" or command.startswith("$(", j):
                    raise NotReading("command substitution")
                if command[j] == "\\" and j + 1 < n:
                    j += 1
                buffer.append(command[j])
                j += 1
            if j >= n:
                raise NotReading("an unbalanced quote")
            word.append("".join(buffer))
            started, i = True, j + 1
        elif ch == "\\" and i + 1 < n:
            if command[i + 1] == "\n":
                raise NotReading("a newline")
            word.append(command[i + 1])
            started, i = True, i + 2
        elif ch in " \t":
            end_word()
            i += 1
        elif ch == "|":
            if command.startswith("||", i):
                raise NotReading("`||`")
            end_word()
            if not words:
                raise NotReading("an empty pipeline stage")
            result.append(words)
            words = []
            i += 1
        elif ch == "$" and command.startswith("$(", i):
            raise NotReading("command substitution")
        elif ch == ">" or (ch == "&" and command.startswith("&>", i)):
            # `N>`, `N>>`, `>&N`, `&>`: only to /dev/null or to another descriptor
            fd = "".join(word)
            if started and not fd.isdigit():
                end_word()
            else:
                word.clear()
                started = False
            i += 2 if ch == "&" else 1
            if command.startswith(">", i):
                i += 1
            if command.startswith("&", i):
                target, i = redirect_target(i + 1)
                if not (target.isdigit() or target == "-"):
                    raise NotReading(f"output redirected to &{target}")
                continue
            if command.startswith("|", i) or command.startswith("(", i):
                raise NotReading("output redirected to a command")
            target, i = redirect_target(i)
            if target not in _OUTPUT_SINKS:
                raise NotReading(f"output redirected to {target or 'nothing'}")
        elif ch == "<":
            if command.startswith("<>", i) or command.startswith("<(", i):
                raise NotReading("`<>` or process substitution")
            end_word()
            i += 1
            while command.startswith("<", i):  # here-strings read, too
                i += 1
            _target, i = redirect_target(i)
        elif ch in _CHAINING:
            raise NotReading("`&&`" if command.startswith("&&", i) else _CHAINING[ch])
        else:
            word.append(ch)
            started, i = True, i + 1
    end_word()
    if not words:
        raise NotReading("an empty command" if not result else "an empty pipeline stage")
    result.append(words)
    return result


def _matches(word: str, forbidden: frozenset[str]) -> str | None:
    for item in forbidden:
        if word == item or (item.startswith("--") and word.startswith(item + "=")):
            return item
        if len(item) == 2 and item.startswith("-") and word.startswith(item) and not word.startswith("--"):
            return item  # -oFILE, -XPOST
    return None


def _check_stage(words: list[str]) -> None:
    while words and "=" in words[0] and not words[0].startswith("-") and words[0].split("=", 1)[0].isidentifier():
        words = words[1:]  # VAR=value prefixes
    if not words:
        raise NotReading("an empty command")
    program = words[0].rsplit("/", 1)[-1]
    args = words[1:]
    if program in WRAPPERS:
        valued = WRAPPERS[program]
        index = 0
        while index < len(args) and (args[index].startswith("-") or (program == "env" and "=" in args[index])):
            index += 2 if args[index] in valued else 1
        if program == "timeout" and index < len(args):
            index += 1  # the duration
        if index >= len(args):
            if program in ("env",):
                return  # `env` alone prints the environment
            raise NotReading(f"{program} without a command")
        _check_stage(args[index:])
        return
    reader = READERS.get(program)
    if reader is None:
        raise NotReading(f"{program} is not a reading command")
    for word in args:
        hit = _matches(word, reader.forbidden)
        if hit:
            raise NotReading(f"{program} {hit} changes something")
    operands: list[str] = []
    skip = False
    for word in args:
        if skip:
            skip = False
        elif word in reader.valued:
            skip = True
        elif word == "-" or not word.startswith("-"):
            operands.append(word)
    if reader.subcommands is not None and (not operands or operands[0] not in reader.subcommands):
        sub = operands[0] if operands else "(none)"
        known = ", ".join(sorted(reader.subcommands))
        raise NotReading(f"{program} {sub}: not one of its reading subcommands ({known})")
    if reader.max_operands is not None and len(operands) > reader.max_operands:
        raise NotReading(f"{program} with {len(operands)} operand(s) changes something")
    if reader.custom is not None:
        problem = reader.custom(args)
        if problem:
            raise NotReading(problem)


def why_not_reading(command: str) -> str | None:
    """None when `command` only reads; otherwise why it is refused."""
    try:
        for stage in stages(command):
            _check_stage(stage)
    except NotReading as exc:
        return str(exc)
    return None


_inside = threading.local()


def guard(host: Any) -> Any:
    """Check every command `host` runs against the tier in force (idempotent); returns the host."""
    backend = host.backend
    if getattr(backend, "_stackproof_guarded", False):
        return host
    run = backend.run

    def checked_run(command: str, *args: str, **kwargs: Any):
        text = backend.quote(command, *args)
        if safety.effective_tier() == "readonly":
            problem = why_not_reading(text)
            if problem:
                safety.refuse(f"`{text}` on host {backend.get_hostname()} ({problem})")
        _inside.run = True
        try:
            return run(command, *args, **kwargs)
        finally:
            _inside.run = False

    backend.run = checked_run
    # Backends that also run configuration-management modules directly (host.ansible, host.salt): those are
    # no reads the engine can check, so the readonly tier refuses them unless they carry a checked command.
    for name in ("run_ansible", "run_salt"):
        original = getattr(backend, name, None)
        if original is not None:
            setattr(backend, name, _refused_when_readonly(original, name, backend))
    backend._stackproof_guarded = True
    return host


def _refused_when_readonly(original: Callable[..., Any], name: str, backend: Any) -> Callable[..., Any]:
    def checked(*args: Any, **kwargs: Any) -> Any:
        if safety.effective_tier() == "readonly" and not getattr(_inside, "run", False):
            safety.refuse(f"{name} {args[:1]} on host {backend.get_hostname()} (not a command it can check)")
        return original(*args, **kwargs)

    return checked
