"""Host commands in the readonly tier: reads run (testinfra's modules included), anything else is refused."""

from __future__ import annotations

import testinfra

from stackproof import host_commands, safety

READS = [
    "cat -- '/etc/nova/nova.conf'",
    "ps -eww -o args",
    "systemctl show -p Restart --value openstack-nova-compute.service",
    "systemctl list-unit-files | grep -q \"^'nova-compute'\"",
    "curl -sS -o /dev/null -w '%{http_code}' --max-time 3 --cacert /etc/ca.pem https://192.0.2.5:443/sdk",
    "ip -j link show dev data0",
    "ip -j route get 198.51.100.7",
    "ip a",
    "sha256sum '/etc/hosts' | cut -d ' ' -f 1",
    "cksum -a sha256 < /etc/hosts",
    "rpm -q --quiet openssh 2>&1",
    "dpkg-query -f '${Status} ${Version}' -W openssh-server",
    "getent group root | cut -d':' -f3",
    "sudo -n cat /etc/shadow",
    "iptables -nL INPUT",
    "cat /etc/hosts 2>/dev/null",
    "command -v ip",
]

WRITES = {
    "touch /tmp/x": "touch is not a reading command",
    "cat /etc/hosts > /tmp/copy": "output redirected to /tmp/copy",
    "cat /etc/hosts; rm -f /tmp/x": "`;`",
    "cat /etc/hosts && rm -f /tmp/x": "`&&`",
    "cat /etc/hosts || rm -f /tmp/x": "`||`",
    "cat $(rm -f /tmp/x)": "command substitution",
    "cat `rm -f /tmp/x`": "command substitution",
    "cat /etc/hosts | tee /tmp/copy": "tee is not a reading command",
    "cat /etc/hosts &": "`&`",
    "cat /etc/hosts\nrm -f /tmp/x": "a newline",
    "echo x >> /etc/passwd": "output redirected to /etc/passwd",
    "ip link set data0 mtu 1500": "ip link set changes something",
    "ip a a 192.0.2.9/24 dev data0": "ip a a changes something",
    "systemctl restart nova-compute": "systemctl restart: not one of its reading subcommands",
    "curl -X POST https://192.0.2.5/": "curl -X POST: not a read",
    "curl -d x=1 https://192.0.2.5/": "curl -d sends or stores data",
    "curl -o /etc/motd https://192.0.2.5/": "curl -o /etc/motd: writes a file",
    "sort -o /etc/hosts /etc/hosts": "sort -o changes something",
    "find / -delete": "find -delete changes something",
    "hostname evil": "hostname with 1 operand(s) changes something",
    "sysctl -w net.ipv4.ip_forward=1": "sysctl -w changes something",
    "iptables -nvA INPUT -j DROP": "iptables with a rule or chain command changes something",
    "sudo rm -f /tmp/x": "rm is not a reading command",
    "sh -c 'cat /etc/hosts'": "sh is not a reading command",
    "(rm -f /tmp/x)": "a subshell",
    "cat <(rm -f /tmp/x)": "process substitution",
}


def test_reading_commands_pass() -> None:
    refused = {command: host_commands.why_not_reading(command) for command in READS}
    assert {c: why for c, why in refused.items() if why} == {}


def test_writing_commands_are_refused_saying_why() -> None:
    said = {command: host_commands.why_not_reading(command) for command in WRITES}
    assert {c: why for c, why in said.items() if why is None or WRITES[c] not in why} == {}


def test_a_guarded_host_reads_and_refuses_writes_in_the_readonly_tier(tmp_path) -> None:
    config = tmp_path / "nova.conf"
    config.write_text("[DEFAULT]\nhost = kvm-1\n")
    written = tmp_path / "written"
    host = host_commands.guard(testinfra.get_host("local://"))
    safety.enter(safety.CheckContext("t::r", "SP-BLK-005", "readonly"))
    try:
        assert host.file(str(config)).content_string.startswith("[DEFAULT]")
        assert host.file(str(config)).exists and host.file(str(tmp_path)).is_directory
        assert host.run("cat %s", str(config)).stdout.endswith("kvm-1\n")
        assert "lo" in host.interface.names()
        for attempt in (lambda: host.run(f"touch {written}"), lambda: host.check_output(f"echo x > {written}"),
                        lambda: host.backend.run(f"touch {written}")):
            try:
                attempt()
            except AssertionError as exc:
                assert "is a readonly check but tried" in str(exc)
            else:
                raise AssertionError("a write ran in a readonly check")
        context = safety.current()
        assert len(context.violations) == 3
    finally:
        safety.leave()
    assert not written.exists()
    safety.enter(safety.CheckContext("t::w", "SP-BLK-006", "workload"))
    try:
        assert host.run(f"touch {written}").rc == 0  # workload and disruptive checks keep the full host
    finally:
        safety.leave()
    assert written.exists()


HOST_CHECK = """
from pathlib import Path

@pytest.mark.control("SP-BLK-005", title="Data NIC", statement="The computes have a dedicated data NIC.")
@pytest.mark.readonly
@pytest.mark.block_storage
def test_sneaky_host_write(hosts):
    host = hosts.of("compute-kvm")[0]
    assert "lo" in host.interface.names()
    host.run("touch %s", str(Path(__file__).parents[2] / "written-by-a-readonly-check"))
"""


def test_a_readonly_check_cannot_write_on_a_host(project) -> None:
    project.write_target(extra="hosts:\n  compute-kvm: {urls: ['local://']}\n")
    project.check("block_storage/test_host.py", HOST_CHECK)
    result = project.run()
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*SP-BLK-005*is a readonly check but tried `touch *written-by-a-readonly-check`"
                                 " on host *(touch is not a reading command)*"])
    assert not (project.path / "written-by-a-readonly-check").exists()
