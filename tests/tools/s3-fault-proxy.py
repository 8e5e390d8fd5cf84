#!/usr/bin/env python3
"""A loopback HTTP/1.1 proxy that puts S3 failures on the wire, for Lifeboat's integration tests.

    s3-fault-proxy.py --upstream 127.0.0.1:PORT [--parent-pid N] [--max-seconds 1800]

It sits between an S3 client and a real S3 server (SeaweedFS in the tests). It listens on two
loopback ports chosen by the kernel, one for traffic and one for control, and prints one JSON
line to stdout when ready: {"port": P, "control_port": C}. It exits by itself when the process
--parent-pid names is gone, or after --max-seconds, so a killed test run leaves nothing behind.

Traffic
    Requests are forwarded byte for byte, head and body, with the Host header unchanged (SigV4
    signs it, so the client signs for the proxy's address and the server checks that same
    value). One thread per client connection, one upstream connection per client connection;
    keep-alive on both sides. Request bodies by Content-Length (chunked is tolerated); a client
    that sends `Expect: 100-continue` gets `100 Continue` from the proxy itself. Responses with
    Content-Length, chunked, read-to-close, or no body (HEAD, 1xx, 204, 304). Request bodies and
    Authorization headers are never logged.

Control (HTTP with JSON bodies on the control port)
    POST   /rules   a rule or a list of rules: appended to the rule list
    DELETE /rules   removes every rule
    GET    /rules   the rules with what is left of them
    GET    /stats   {"requests": n, "faults": [{"rule", "fault", "method", "path"}...],
                     "log": [{"method", "path", "status", "upstream_status", "fault"}...]}
                    (the log keeps the last 1000 requests; status is what the client received,
                    null when it received no status line; upstream_status is the real server's
                    answer, null when the request was not forwarded)
    DELETE /stats   resets the counters and the log

A rule
    {"fault": NAME, "method": "PUT" | null, "path": REGEX | null, "times": 1, "skip": 0,
     "retry_after": 1, "seconds": 30}
    method null matches any method; path is searched (re.search) in the request target, that is
    the path with its query string, null matches any. For each request, the first rule that
    matches and is not spent takes it: while its "skip" is above zero the request passes cleanly
    and skip goes down by one; then the next "times" requests get the fault (times -1: every
    matching request, forever). A spent rule matches nothing.

Faults
    slowdown              not forwarded; 503 with an S3 XML error (Code SlowDown) and
                          `Retry-After: <retry_after, default 1>`.
    error500              not forwarded; 500 InternalError XML.
    conflict412           not forwarded; 412 PreconditionFailed XML (a create-only PUT that
                          meets an object already there).
    reset_before_headers  the request is read, not forwarded, and the client connection is
                          closed with a TCP reset (SO_LINGER 0).
    reset_after_headers   forwarded; the client gets the status line and headers, then a reset.
    reset_mid_body        forwarded; the client gets the headers and the first half of the body
                          (as it was on the wire), then a reset.
    truncate_body         forwarded; the client gets the headers with Content-Length rewritten to
                          half the body's length and only that first half, then a normal close:
                          a silent truncation that only a checksum reveals.
    corrupt_body          forwarded; one byte in the middle of the body is flipped (XOR 0xFF),
                          the length stays the same; the connection stays usable.
    stall                 forwarded; the client gets the headers and the first half of the body,
                          then nothing for <seconds, default 30>, then a normal close.
    ok_error_body         forwarded; the answer is replaced by `200 OK` with an S3 XML
                          <Error><Code>InternalError</Code>... body (as S3 may answer
                          CompleteMultipartUpload or CopyObject).
    lost_response         forwarded and the whole answer read (the operation took effect), then
                          the client connection is reset without a byte sent.
    ignore_precondition   forwarded; a 412 answer becomes `200 OK` with an empty body, as from a
                          store that ignores `If-None-Match: *` (other answers pass unchanged).

Replies the proxy makes itself carry the same length and keep-alive rules as real ones, so a
client can keep using the connection after slowdown, error500, conflict412, corrupt_body and
ok_error_body. After a reset or a close, the client must open a new connection.
"""

import argparse
import collections
import fcntl
import json
import os
import re
import socket
import struct
import sys
import termios
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MAX_HEAD_BYTES = 64 * 1024
LOG_LENGTH = 1000
UPSTREAM_TIMEOUT_SECONDS = 300
# How long a reset waits for the bytes already sent to reach the client, so a "reset after N
# bytes" really delivers N bytes before the reset (an RST discards whatever is still queued).
DRAIN_TIMEOUT_SECONDS = 10


# MARK: - Rules and statistics

LOCAL_FAULTS = {"slowdown", "error500", "conflict412", "reset_before_headers"}
FORWARDED_FAULTS = {
    "reset_after_headers", "reset_mid_body", "truncate_body", "corrupt_body", "stall",
    "ok_error_body", "lost_response", "ignore_precondition",
}
FAULTS = LOCAL_FAULTS | FORWARDED_FAULTS


class RuleError(ValueError):
    pass


class Rule:
    def __init__(self, index, spec):
        if not isinstance(spec, dict):
            raise RuleError(f"rule {index}: expected a JSON object, got {type(spec).__name__}")
        unknown = set(spec) - {"fault", "method", "path", "times", "skip", "retry_after", "seconds"}
        if unknown:
            raise RuleError(f"rule {index}: unknown keys {sorted(unknown)}")
        self.index = index
        self.fault = spec.get("fault")
        if self.fault not in FAULTS:
            raise RuleError(f"rule {index}: unknown fault {self.fault!r}; known: {sorted(FAULTS)}")
        self.method = spec.get("method")
        if self.method is not None:
            if not isinstance(self.method, str):
                raise RuleError(f"rule {index}: method must be a string or null")
            self.method = self.method.upper()
        self.path = spec.get("path")
        self.pattern = None
        if self.path is not None:
            try:
                self.pattern = re.compile(self.path)
            except (re.error, TypeError) as error:
                raise RuleError(f"rule {index}: path {self.path!r} is not a regular expression: {error}")
        self.times = self._integer(spec, "times", 1, minimum=-1)
        self.skip = self._integer(spec, "skip", 0, minimum=0)
        self.retry_after = self._integer(spec, "retry_after", 1, minimum=0)
        seconds = spec.get("seconds")
        if seconds is None:
            seconds = 30
        if not isinstance(seconds, (int, float)) or isinstance(seconds, bool) or seconds < 0:
            raise RuleError(f"rule {index}: seconds must be a non-negative number")
        self.seconds = float(seconds)

    def _integer(self, spec, key, default, minimum):
        value = spec.get(key)
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise RuleError(f"rule {self.index}: {key} must be an integer >= {minimum}")
        return value

    def matches(self, method, target):
        if self.times == 0:
            return False
        if self.method is not None and self.method != method:
            return False
        return self.pattern is None or self.pattern.search(target) is not None

    def describe(self):
        return {"rule": self.index, "fault": self.fault, "method": self.method, "path": self.path,
                "times": self.times, "skip": self.skip}


class State:
    """The rules and the statistics, shared by every connection thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []
        self.next_rule = 0
        self.requests = 0
        self.faults = []
        self.log = collections.deque(maxlen=LOG_LENGTH)

    def add_rules(self, specs):
        if isinstance(specs, dict):
            specs = [specs]
        if not isinstance(specs, list):
            raise RuleError("expected a rule object or a list of rules")
        with self.lock:
            rules = [Rule(self.next_rule + offset, spec) for offset, spec in enumerate(specs)]
            self.next_rule += len(rules)
            self.rules.extend(rules)
            return len(self.rules)

    def clear_rules(self):
        with self.lock:
            self.rules = []

    def reset_stats(self):
        with self.lock:
            self.requests = 0
            self.faults = []
            self.log.clear()

    def choose(self, method, target):
        """Counts the request and returns the rule whose fault it gets, or None."""
        with self.lock:
            self.requests += 1
            for rule in self.rules:
                if not rule.matches(method, target):
                    continue
                if rule.skip > 0:
                    rule.skip -= 1
                    return None
                if rule.times > 0:
                    rule.times -= 1
                self.faults.append({"rule": rule.index, "fault": rule.fault, "method": method, "path": target})
                return rule
            return None

    def record(self, entry):
        with self.lock:
            self.log.append(entry)

    def snapshot(self):
        with self.lock:
            return {"requests": self.requests, "faults": list(self.faults), "log": list(self.log)}

    def describe_rules(self):
        with self.lock:
            return [rule.describe() for rule in self.rules]


# MARK: - HTTP/1.1 messages


class ProtocolError(Exception):
    pass


class Reader:
    """Buffered reads from a socket: lines, exact counts, or everything up to the close."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = bytearray()

    def _fill(self):
        data = self.sock.recv(256 * 1024)
        if data:
            self.buffer += data
        return bool(data)

    def read_line(self, limit=MAX_HEAD_BYTES):
        while True:
            end = self.buffer.find(b"\n")
            if end >= 0:
                line = bytes(self.buffer[:end + 1])
                del self.buffer[:end + 1]
                return line
            if len(self.buffer) > limit:
                raise ProtocolError("header line too long")
            if not self._fill():
                line = bytes(self.buffer)
                self.buffer.clear()
                return line

    def read_exact(self, count):
        while len(self.buffer) < count:
            if not self._fill():
                raise ProtocolError(f"connection closed after {len(self.buffer)} of {count} bytes")
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data

    def read_to_end(self):
        while self._fill():
            pass
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


class Message:
    """A request or response head as received: the raw bytes, and the parsed start line and
    headers. `body` is the payload with any chunked coding removed; `raw_body` is how it came."""

    def __init__(self, lines):
        self.raw_head = b"".join(lines)
        self.start = lines[0].decode("latin-1").rstrip("\r\n")
        self.headers = []
        for line in lines[1:-1]:
            name, colon, value = line.decode("latin-1").partition(":")
            if not colon:
                raise ProtocolError(f"malformed header line {line[:60]!r}")
            self.headers.append((name.strip().lower(), value.strip()))
        self.body = b""
        self.raw_body = b""

    def header(self, name):
        for key, value in self.headers:
            if key == name:
                return value
        return None

    def has_token(self, name, token):
        return any(key == name and token in (part.strip().lower() for part in value.split(","))
                   for key, value in self.headers)

    def content_length(self):
        value = self.header("content-length")
        if value is None:
            return None
        if not value.isdigit():
            raise ProtocolError(f"bad Content-Length {value!r}")
        return int(value)

    def is_chunked(self):
        return self.has_token("transfer-encoding", "chunked")


def read_head(reader):
    """The lines of one message head (start line to the empty line), or None at a clean end."""
    lines = []
    size = 0
    while True:
        line = reader.read_line()
        if not line:
            if lines:
                raise ProtocolError("connection closed inside a message head")
            return None
        if not lines and line in (b"\r\n", b"\n"):
            continue  # RFC 9112 §2.2: ignore empty lines before a request line
        lines.append(line)
        size += len(line)
        if size > MAX_HEAD_BYTES:
            raise ProtocolError("message head too large")
        if line in (b"\r\n", b"\n"):
            return lines


def read_chunked(reader):
    raw = bytearray()
    body = bytearray()
    while True:
        line = reader.read_line()
        if not line:
            raise ProtocolError("connection closed inside a chunked body")
        raw += line
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise ProtocolError(f"bad chunk size line {line[:40]!r}")
        if size == 0:
            while True:  # trailer section
                trailer = reader.read_line()
                if not trailer:
                    raise ProtocolError("connection closed inside chunked trailers")
                raw += trailer
                if trailer in (b"\r\n", b"\n"):
                    return bytes(raw), bytes(body)
        data = reader.read_exact(size)
        raw += data
        body += data
        raw += reader.read_exact(2)


def xml_error(code, message, resource):
    request_id = os.urandom(8).hex().upper()
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{code}</Code><Message>{message}</Message>"
            f"<Resource>{xml_escape(resource)}</Resource><RequestId>{request_id}</RequestId></Error>").encode()


def xml_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def make_response(status, reason, body, extra_headers=(), head_only=False):
    lines = [f"HTTP/1.1 {status} {reason}",
             "Content-Type: application/xml",
             f"Content-Length: {len(body)}",
             "Server: s3-fault-proxy",
             f"x-amz-request-id: {os.urandom(8).hex().upper()}"]
    lines.extend(extra_headers)
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return head if head_only else head + body


def with_content_length(response, length):
    """The response head with Content-Length set to `length` and any Transfer-Encoding removed."""
    lines = response.raw_head.split(b"\r\n")
    kept = [lines[0]]
    for line in lines[1:]:
        name = line.split(b":", 1)[0].strip().lower()
        if line and name not in (b"content-length", b"transfer-encoding"):
            kept.append(line)
    kept.append(b"Content-Length: " + str(length).encode())
    return b"\r\n".join(kept) + b"\r\n\r\n"


# MARK: - Connections


class ConnectionDone(Exception):
    """The client connection is over (closed, reset, or by a fault)."""


def reset(sock, drain=False):
    """Closes `sock` with a TCP reset: SO_LINGER with a zero timeout discards the send queue and
    sends RST instead of FIN. With `drain`, first waits for what was sent to be acknowledged."""
    try:
        if drain:
            deadline = time.monotonic() + DRAIN_TIMEOUT_SECONDS
            buffer = bytearray(4)
            while time.monotonic() < deadline:
                fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, buffer)  # SIOCOUTQ: unacknowledged bytes
                if struct.unpack("i", buffer)[0] == 0:
                    break
                time.sleep(0.002)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


def close_gracefully(sock):
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    sock.close()


class Upstream:
    """The connection to the real server that serves one client connection."""

    def __init__(self, address):
        self.address = address
        self.sock = None
        self.reader = None
        self.used = False

    def close(self):
        if self.sock is not None:
            self.sock.close()
        self.sock = None
        self.reader = None

    def exchange(self, request, method):
        """Sends the request and returns the final response (1xx interim answers are dropped).
        A kept-alive connection that the server closed while idle is retried once on a new one."""
        for attempt in (0, 1):
            if self.sock is None:
                self.sock = socket.create_connection(self.address, timeout=UPSTREAM_TIMEOUT_SECONDS)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                self.reader = Reader(self.sock)
                self.used = False
            reused = self.used
            self.used = True
            try:
                self.sock.sendall(request.raw_head + request.raw_body)
                lines = read_head(self.reader)
            except OSError:
                lines = None
            if lines is None:
                self.close()
                if reused and attempt == 0:
                    continue
                raise ProtocolError("the upstream server closed the connection without answering")
            response = Message(lines)
            while status_of(response) // 100 == 1 and status_of(response) != 101:
                lines = read_head(self.reader)
                if lines is None:
                    self.close()
                    raise ProtocolError("the upstream server closed the connection after an interim answer")
                response = Message(lines)
            self._read_body(response, method)
            return response

    def _read_body(self, response, method):
        status = status_of(response)
        if method == "HEAD" or status in (204, 304) or status // 100 == 1:
            pass
        elif response.is_chunked():
            response.raw_body, response.body = read_chunked(self.reader)
        elif response.content_length() is not None:
            response.body = response.raw_body = self.reader.read_exact(response.content_length())
        else:
            response.body = response.raw_body = self.reader.read_to_end()
            self.close()
            return
        if response.has_token("connection", "close"):
            self.close()


def status_of(response):
    parts = response.start.split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        raise ProtocolError(f"bad status line {response.start[:60]!r}")
    return int(parts[1])


class ClientConnection:
    def __init__(self, sock, state, upstream_address):
        self.sock = sock
        self.state = state
        self.reader = Reader(sock)
        self.upstream = Upstream(upstream_address)
        self.open = True

    def serve(self):
        try:
            while self.serve_one():
                pass
        except (ConnectionDone, ProtocolError, OSError):
            pass
        finally:
            self.upstream.close()
            if self.open:
                self.sock.close()

    def serve_one(self):
        lines = read_head(self.reader)
        if lines is None:
            return False
        request = Message(lines)
        parts = request.start.split(" ")
        if len(parts) != 3:
            raise ProtocolError(f"bad request line {request.start[:60]!r}")
        method, target, version = parts
        if request.has_token("expect", "100-continue"):
            self.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if request.is_chunked():
            request.raw_body, request.body = read_chunked(self.reader)
        elif request.content_length():
            request.body = request.raw_body = self.reader.read_exact(request.content_length())
        keep_alive = not request.has_token("connection", "close") and (
            version != "HTTP/1.0" or request.has_token("connection", "keep-alive"))

        entry = {"method": method, "path": target, "status": None, "upstream_status": None, "fault": None}
        rule = self.state.choose(method, target)
        try:
            if rule is None:
                return self.forward(request, method, entry) and keep_alive
            entry["fault"] = rule.fault
            print(f"s3-fault-proxy: {rule.fault} (rule {rule.index}) on {method} {target}", file=sys.stderr, flush=True)
            if rule.fault in LOCAL_FAULTS:
                return self.local_fault(rule, request, method, target, entry) and keep_alive
            return self.forwarded_fault(rule, request, method, entry) and keep_alive
        finally:
            self.state.record(entry)

    # Clean forwarding.

    def forward(self, request, method, entry):
        response = self.exchange(request, method, entry)
        self.send(response.raw_head + response.raw_body, entry, status_of(response))
        return not response.has_token("connection", "close") and self.upstream.sock is not None

    def exchange(self, request, method, entry):
        try:
            response = self.upstream.exchange(request, method)
        except (OSError, ProtocolError) as error:
            # An unreachable or broken server looks like one to the client too.
            print(f"s3-fault-proxy: upstream {self.upstream.address[0]}:{self.upstream.address[1]}: {error}",
                  file=sys.stderr, flush=True)
            self.reset()
        entry["upstream_status"] = status_of(response)
        return response

    def send(self, data, entry, status):
        entry["status"] = status
        self.sock.sendall(data)

    def reset(self, drain=False):
        self.open = False
        reset(self.sock, drain=drain)
        raise ConnectionDone()

    def close(self):
        self.open = False
        close_gracefully(self.sock)
        raise ConnectionDone()

    # Faults.

    def local_fault(self, rule, request, method, target, entry):
        head_only = method == "HEAD"
        resource = target.split("?", 1)[0]
        if rule.fault == "reset_before_headers":
            self.reset()
        if rule.fault == "slowdown":
            body = xml_error("SlowDown", "Please reduce your request rate.", resource)
            self.send(make_response(503, "Slow Down", body, [f"Retry-After: {rule.retry_after}"], head_only), entry, 503)
        elif rule.fault == "error500":
            body = xml_error("InternalError", "We encountered an internal error. Please try again.", resource)
            self.send(make_response(500, "Internal Server Error", body, (), head_only), entry, 500)
        elif rule.fault == "conflict412":
            body = xml_error("PreconditionFailed", "At least one of the pre-conditions you specified did not hold", resource)
            self.send(make_response(412, "Precondition Failed", body, (), head_only), entry, 412)
        return True

    def forwarded_fault(self, rule, request, method, entry):
        response = self.exchange(request, method, entry)
        status = status_of(response)
        body = response.body
        half = len(body) // 2
        if rule.fault == "lost_response":
            self.reset()
        if rule.fault == "reset_after_headers":
            self.send(response.raw_head, entry, status)
            self.reset(drain=True)
        if rule.fault == "reset_mid_body":
            self.send(response.raw_head + response.raw_body[:len(response.raw_body) // 2], entry, status)
            self.reset(drain=True)
        if rule.fault == "truncate_body":
            self.send(with_content_length(response, half) + body[:half], entry, status)
            self.close()
        if rule.fault == "stall":
            self.send(response.raw_head + response.raw_body[:len(response.raw_body) // 2], entry, status)
            time.sleep(rule.seconds)
            self.close()
        if rule.fault == "corrupt_body":
            corrupted = bytearray(body)
            if corrupted:
                corrupted[half] ^= 0xFF
            head = response.raw_head if not response.is_chunked() else with_content_length(response, len(corrupted))
            self.send(head + bytes(corrupted), entry, status)
        elif rule.fault == "ignore_precondition":
            if status == 412:
                self.send(make_response(200, "OK", b"", (), method == "HEAD"), entry, 200)
            else:
                self.send(response.raw_head + response.raw_body, entry, status)
        elif rule.fault == "ok_error_body":
            resource = request.start.split(" ")[1].split("?", 1)[0]
            error = xml_error("InternalError", "We encountered an internal error. Please try again.", resource)
            self.send(make_response(200, "OK", error, (), method == "HEAD"), entry, 200)
        return not response.has_token("connection", "close") and self.upstream.sock is not None


# MARK: - Control API


def control_handler(state):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format, *args):
            pass

        def reply(self, status, value):
            body = json.dumps(value).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def read_json(self):
            length = int(self.headers.get("Content-Length") or 0)
            return json.loads(self.rfile.read(length) or b"null")

        def do_GET(self):
            if self.path == "/stats":
                self.reply(200, state.snapshot())
            elif self.path == "/rules":
                self.reply(200, state.describe_rules())
            else:
                self.reply(404, {"error": f"no such resource {self.path}; use /rules or /stats"})

        def do_POST(self):
            if self.path != "/rules":
                self.reply(404, {"error": f"POST goes to /rules, not {self.path}"})
                return
            try:
                count = state.add_rules(self.read_json())
            except (ValueError, RuleError) as error:
                self.reply(400, {"error": str(error)})
                return
            self.reply(200, {"rules": count})

        def do_DELETE(self):
            if self.path == "/rules":
                state.clear_rules()
                self.reply(200, {"rules": 0})
            elif self.path == "/stats":
                state.reset_stats()
                self.reply(200, {"requests": 0})
            else:
                self.reply(404, {"error": f"no such resource {self.path}; use /rules or /stats"})

    return Handler


# MARK: - Main


def watch(parent_pid, deadline):
    """Ends the whole process when the parent is gone or the time is up."""
    original_parent = os.getppid()
    while True:
        if time.monotonic() > deadline:
            os._exit(0)
        if parent_pid is not None:
            if parent_pid == original_parent and os.getppid() != original_parent:
                os._exit(0)
            try:
                os.kill(parent_pid, 0)
            except ProcessLookupError:
                os._exit(0)
            except PermissionError:
                pass
        time.sleep(0.5)


def parse_upstream(text):
    host, colon, port = text.rpartition(":")
    if not colon or not port.isdigit():
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return host, int(port)


def main():
    parser = argparse.ArgumentParser(description="Loopback HTTP/1.1 proxy that injects S3 faults (see the module doc).")
    parser.add_argument("--upstream", required=True, type=parse_upstream, help="the real server, HOST:PORT")
    parser.add_argument("--parent-pid", type=int, help="exit when this process is gone")
    parser.add_argument("--max-seconds", type=float, default=1800, help="exit after this long (default 1800)")
    arguments = parser.parse_args()

    state = State()
    control = ThreadingHTTPServer(("127.0.0.1", 0), control_handler(state))
    control.daemon_threads = True
    traffic = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    traffic.bind(("127.0.0.1", 0))
    traffic.listen(128)

    threading.Thread(target=watch, args=(arguments.parent_pid, time.monotonic() + arguments.max_seconds),
                     daemon=True).start()
    threading.Thread(target=control.serve_forever, daemon=True).start()
    print(json.dumps({"port": traffic.getsockname()[1], "control_port": control.server_address[1]}), flush=True)

    while True:
        client, _ = traffic.accept()
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        connection = ClientConnection(client, state, arguments.upstream)
        threading.Thread(target=connection.serve, daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
