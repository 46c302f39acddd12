"""A fake vCenter SDK endpoint, just enough for pyVmomi's SmartConnect: the version document, the service
content, and a Login that accepts one password and answers any other with vSphere's InvalidLogin fault. It
counts the logins it was sent, so a test can tell one attempt per run from one per check."""

from __future__ import annotations

import re
import ssl
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from pyVmomi import VmomiSupport

PASSWORD = "Vc-Right-Password-91d3"
ENVELOPE = ('<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope '
            'xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            "<soapenv:Body>{}</soapenv:Body></soapenv:Envelope>")
CONTENT = ('<RetrieveServiceContentResponse xmlns="urn:vim25"><returnval>'
           '<rootFolder type="Folder">group-d1</rootFolder>'
           '<propertyCollector type="PropertyCollector">propertyCollector</propertyCollector>'
           "<about><name>VMware vCenter Server</name><fullName>fake vCenter {version}</fullName>"
           "<vendor>stackproof tests</vendor><version>{version}</version><build>1</build>"
           "<osType>linux-x64</osType><productLineId>vpx</productLineId><apiType>VirtualCenter</apiType>"
           "<apiVersion>{version}</apiVersion></about>"
           '<sessionManager type="SessionManager">SessionManager</sessionManager>'
           "</returnval></RetrieveServiceContentResponse>")
SESSION = ('<LoginResponse xmlns="urn:vim25"><returnval><key>session-1</key><userName>{user}</userName>'
           "<fullName>{user}</fullName><loginTime>2026-01-01T00:00:00Z</loginTime>"
           "<lastActiveTime>2026-01-01T00:00:00Z</lastActiveTime><locale>en</locale>"
           "<messageLocale>en</messageLocale><extensionSession>false</extensionSession>"
           "</returnval></LoginResponse>")
INVALID_LOGIN = ("<soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>Cannot complete login due to "
                 "an incorrect user name or password.</faultstring><detail>"
                 '<InvalidLoginFault xmlns="urn:vim25" xsi:type="InvalidLogin"></InvalidLoginFault>'
                 "</detail></soapenv:Fault>")


class FakeVCenter:
    def __init__(self, directory: Path) -> None:
        self.logins: list[str] = []  # the user of each Login call
        self.version = VmomiSupport.versionIdMap[VmomiSupport.GetServiceVersions("vim25")[0]]
        cert, key = directory / "fake-vcenter.pem", directory / "fake-vcenter.key"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_address[1]}/sdk"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        vcenter = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, body: str, content_type: str = "text/xml") -> None:
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", f"{content_type}; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.endswith("/vimServiceVersions.xml"):
                    return self._send(200, '<?xml version="1.0" encoding="UTF-8" ?><namespaces version="1.0">'
                                           f"<namespace><name>urn:vim25</name><version>{vcenter.version}</version>"
                                           "</namespace></namespaces>")
                return self._send(404, "")

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                if "<Login " in body:
                    user = re.search(r"<userName[^>]*>([^<]*)</userName>", body)[1]
                    password = re.search(r"<password[^>]*>([^<]*)</password>", body)[1]
                    vcenter.logins.append(user)
                    if password != PASSWORD:
                        return self._send(500, ENVELOPE.format(INVALID_LOGIN))
                    return self._send(200, ENVELOPE.format(SESSION.format(user=user)))
                if "<Logout" in body:
                    return self._send(200, ENVELOPE.format('<LogoutResponse xmlns="urn:vim25"></LogoutResponse>'))
                return self._send(200, ENVELOPE.format(CONTENT.format(version=vcenter.version)))

        return Handler
