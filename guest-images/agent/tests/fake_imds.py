#!/usr/bin/env python3
"""A fake EC2 instance metadata service (IMDS) for testing ec2lab-agent.

Serves /latest/api/token (PUT, IMDSv2), /latest/meta-data/{instance-id,hostname,
local-hostname,public-keys/0/openssh-key} and /latest/user-data. Prints one line per
request to stderr. Modes:
  v2        tokens required (HttpTokens=required): GETs without a valid token get 401
  v1        no token endpoint (PUT answers 405): plain GETs
  expire    like v2, but the first token is rejected once with 401 (an expired token)
Example:
  fake_imds.py --bind 10.254.99.1 --port 8080 --instance-id i-0abc --key-file k.pub \
      --user-data-file ud.sh
"""
import argparse
import http.server
import secrets
import sys
import time


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bind", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8080)
    p.add_argument("--mode", choices=["v2", "v1", "expire"], default="v2")
    p.add_argument("--instance-id", default="i-0123456789abcdef0")
    p.add_argument("--hostname", default="ip-10-254-99-2.lab-1.compute.internal")
    p.add_argument("--key-file", help="public key served as public-keys/0/openssh-key (none: 404)")
    p.add_argument("--user-data-file", help="served as /latest/user-data (none: 404)")
    p.add_argument("--port-file", help="write the bound port here (for --port 0)")
    a = p.parse_args()

    tokens = set()
    state = {"expired_once": False}

    def read(path):
        if not path:
            return None
        with open(path, "rb") as f:
            return f.read()

    class H(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            sys.stderr.write("fake-imds: %s %s %s\n" % (time.strftime("%H:%M:%S"), self.address_string(), fmt % args))

        def reply(self, code, body=b""):
            self.send_response(code)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_PUT(self):
            if self.path != "/latest/api/token":
                return self.reply(404)
            if a.mode == "v1":
                return self.reply(405)
            ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
            if not ttl or not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
                return self.reply(400)
            t = secrets.token_urlsafe(32)
            tokens.add(t)
            self.reply(200, t.encode())

        def do_GET(self):
            if self.path == "/redirect":
                # For curl -L: a redirect to the instance id (no token needed to follow it).
                self.send_response(301)
                self.send_header("Location", "/latest/meta-data/instance-id")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if a.mode in ("v2", "expire"):
                t = self.headers.get("X-aws-ec2-metadata-token")
                if t not in tokens:
                    return self.reply(401)
                if a.mode == "expire" and not state["expired_once"]:
                    state["expired_once"] = True
                    tokens.discard(t)
                    return self.reply(401)
            items = {
                "/latest/meta-data/instance-id": a.instance_id.encode(),
                "/latest/meta-data/hostname": a.hostname.encode(),
                "/latest/meta-data/local-hostname": a.hostname.encode(),
                "/latest/meta-data/public-keys/0/openssh-key": read(a.key_file),
                "/latest/user-data": read(a.user_data_file),
            }
            body = items.get(self.path)
            if body is None:
                return self.reply(404, b"Not Found")
            self.reply(200, body)

    s = http.server.ThreadingHTTPServer((a.bind, a.port), H)
    if a.port_file:
        with open(a.port_file, "w") as f:
            f.write(str(s.server_address[1]))
    sys.stderr.write("fake-imds: serving %s on %s:%d\n" % (a.mode, a.bind, s.server_address[1]))
    s.serve_forever()


if __name__ == "__main__":
    main()
