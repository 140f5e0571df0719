#!/usr/bin/env python3
"""A TCP proxy in front of the test registry that misbehaves on blob downloads.

One request per connection (it answers with Connection: close). Every request line and
its Range header are logged to --log as "METHOD PATH range=VALUE". For GET …/blobs/… with
a 200/206 answer:
  --cut-after N   the first such response is cut (connection closed) after N body bytes;
  --flip          one byte in the middle of every such body is flipped.
"""
import argparse, os, socket, threading

def read_head(sock):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return None, b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head.decode("latin-1"), rest

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--upstream", type=int, required=True)
    parser.add_argument("--port-file", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--cut-after", type=int, default=-1)
    parser.add_argument("--flip", action="store_true")
    args = parser.parse_args()
    state = {"cut": args.cut_after >= 0}
    lock = threading.Lock()

    def handle(client):
        try:
            first = client.recv(1, socket.MSG_PEEK)
            if first[:1] == b"\x16":
                return  # a TLS ClientHello: this proxy speaks plain HTTP only
            head, rest = read_head(client)
            if head is None:
                return
            lines = head.split("\r\n")
            method, path, _ = lines[0].split(" ", 2)
            headers = [l for l in lines[1:] if l and not l.lower().startswith("connection:")]
            rng = next((l.split(":", 1)[1].strip() for l in headers if l.lower().startswith("range:")), "")
            length = int(next((l.split(":", 1)[1] for l in headers if l.lower().startswith("content-length:")), "0"))
            while len(rest) < length:
                rest += client.recv(65536)
            with lock:
                with open(args.log, "a") as log:
                    log.write(f"{method} {path} range={rng}\n")
            upstream = socket.create_connection(("127.0.0.1", args.upstream))
            upstream.sendall(("\r\n".join([lines[0]] + headers + ["Connection: close", "", ""])).encode("latin-1") + rest)
            rhead, body = read_head(upstream)
            if rhead is None:
                return
            rlines = [l for l in rhead.split("\r\n") if not l.lower().startswith("connection:")]
            status = int(rlines[0].split(" ")[1])
            client.sendall(("\r\n".join(rlines + ["Connection: close", "", ""])).encode("latin-1"))
            faulty = method == "GET" and "/blobs/" in path and status in (200, 206)
            body_length = int(next((l.split(":", 1)[1] for l in rlines if l.lower().startswith("content-length:")), "0"))
            cut = -1
            if faulty and body_length > args.cut_after:
                with lock:
                    if state["cut"]:
                        state["cut"] = False
                        cut = args.cut_after
            sent = 0
            flipped = False
            while True:
                if body:
                    if cut >= 0 and sent + len(body) > cut:
                        client.sendall(body[: cut - sent])
                        return  # drop the connection mid-body
                    if faulty and args.flip and not flipped and len(body) > 0:
                        body = bytearray(body)
                        body[len(body) // 2] ^= 0xFF
                        body = bytes(body)
                        flipped = True
                    client.sendall(body)
                    sent += len(body)
                body = upstream.recv(65536)
                if not body:
                    break
        except OSError:
            pass
        finally:
            client.close()

    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    with open(args.port_file + ".tmp", "w") as f:
        f.write(str(server.getsockname()[1]))
    os.rename(args.port_file + ".tmp", args.port_file)
    while True:
        client, _ = server.accept()
        threading.Thread(target=handle, args=(client,), daemon=True).start()

if __name__ == "__main__":
    main()
