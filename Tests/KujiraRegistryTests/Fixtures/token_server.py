#!/usr/bin/env python3
"""A tiny token server for the registry tests (distribution's token auth, token.md).

GET /token?service=S&scope=repository:NAME:ACTIONS[&scope=…] with optional Basic auth
answers {"token": JWT, "expires_in": N}; the JWT is RS256-signed with KEY, and carries
CERT in its x5c header so the registry (auth.token.rootcertbundle = CERT) trusts it.
With --users, credentials are required and checked. Every request is logged as one line
"scope1 scope2 … | user" to --log.
"""
import argparse, base64, json, os, sys, time, uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse, parse_qs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--key", required=True)
    parser.add_argument("--cert", required=True)
    parser.add_argument("--issuer", required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--users", default="")
    parser.add_argument("--expires-in", type=int, default=300)
    args = parser.parse_args()
    key = serialization.load_pem_private_key(open(args.key, "rb").read(), password=None)
    cert = x509.load_pem_x509_certificate(open(args.cert, "rb").read())
    der = cert.public_bytes(serialization.Encoding.DER)
    users = dict(u.split(":", 1) for u in args.users.split(",") if u)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_GET(self):
            url = urlparse(self.path)
            query = parse_qs(url.query)
            user = ""
            header = self.headers.get("Authorization", "")
            if header.startswith("Basic "):
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                if users and users.get(user) != password:
                    return self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]})
            elif users:
                return self.reply(401, {"errors": [{"code": "UNAUTHORIZED", "message": "credentials required"}]})
            scopes = query.get("scope", [])
            with open(args.log, "a") as log:
                log.write(" ".join(scopes) + " | " + user + "\n")
            access = []
            for scope in scopes:
                kind, _, rest = scope.partition(":")
                name, _, actions = rest.rpartition(":")
                access.append({"type": kind, "name": name, "actions": actions.split(",")})
            now = int(time.time())
            claims = {"iss": args.issuer, "sub": user, "aud": args.service, "exp": now + args.expires_in,
                      "nbf": now - 10, "iat": now, "jti": str(uuid.uuid4()), "access": access}
            head = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(der).decode()]}
            signing = (b64url(json.dumps(head).encode()) + "." + b64url(json.dumps(claims).encode())).encode()
            signature = key.sign(signing, padding.PKCS1v15(), hashes.SHA256())
            token = signing.decode() + "." + b64url(signature)
            self.reply(200, {"token": token, "access_token": token, "expires_in": args.expires_in})

        def reply(self, status, body):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.server_address[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    server.serve_forever()

if __name__ == "__main__":
    main()
