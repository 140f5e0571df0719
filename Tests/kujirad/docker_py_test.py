"""docker-py (PyPI `docker`) against kujirad (containers, images, volumes): KujiradDockerPyTests runs it with
DOCKER_HOST pointing at a kujirad on a temporary socket whose store holds busybox:latest.
Every check raises on failure; the script prints one line per passed check."""

import os
import sys
import uuid

import docker
from docker.errors import APIError, NotFound


def check(condition, message):
    if not condition:
        raise AssertionError(message)
    print("ok:", message)


def read_until(sock, marker, seen=b""):
    """Reads from a hijacked socket until `marker` shows up after `seen` (a minute at most)."""
    sock.settimeout(60)
    while marker not in seen:
        chunk = sock.recv(4096)
        if not chunk:
            raise AssertionError(f"the stream ended before {marker!r}: {seen!r}")
        seen += chunk
    return seen


def read_to_end(sock, seen=b""):
    """Reads until the daemon ends the stream (a minute at most)."""
    sock.settimeout(60)
    while True:
        chunk = sock.recv(4096)
        if not chunk:
            return seen
        seen += chunk


def interactive_checks(client):
    """attach logs=1 replay; detach keys watched by the daemon (docker-py does not filter them)."""
    # attach(logs=True, stream=False): the earlier output from the log, then the stream ends.
    done = client.containers.run("busybox", ["sh", "-c", "echo one; echo two >&2; echo three"], detach=True)
    done.wait()
    replay = done.attach(logs=True, stream=False)
    # (stdout and stderr are logged by two pumps: their relative order is not fixed)
    check(sorted(replay.splitlines()) == [b"one", b"three", b"two"], f"attach(logs=True, stream=False) replays the log: {replay!r}")
    only_out = done.attach(logs=True, stream=False, stderr=False)
    check(only_out == b"one\nthree\n", f"attach logs=1 stdout only: {only_out!r}")
    check(done.attach(logs=False, stream=False) == b"", "attach without logs or stream is empty")
    done.remove()

    # A TTY container: the detach keys end the attach, the container runs on.
    name = "kujirad-py-" + uuid.uuid4().hex[:8]
    tty = client.containers.run("busybox", ["cat"], detach=True, tty=True, stdin_open=True, name=name)
    sock = client.api.attach_socket(tty.id, params={"stdin": 1, "stdout": 1, "stream": 1, "detachKeys": "ctrl-x,x"})
    raw = getattr(sock, "_sock", sock)
    # A partial prefix (ctrl-x then y) reaches the container unchanged: cat writes it back.
    raw.sendall(b"\x18y-\n")
    read_until(raw, b"\x18y-\r\n")
    raw.sendall(b"\x18x")
    read_to_end(raw)
    raw.close()
    tty.reload()
    check(tty.status == "running", f"detached with ctrl-x,x: the container still runs ({tty.status})")
    # The default keys, ctrl-p ctrl-q, split across two writes.
    sock = client.api.attach_socket(tty.id, params={"stdin": 1, "stdout": 1, "stream": 1})
    raw = getattr(sock, "_sock", sock)
    raw.sendall(b"again\n")
    read_until(raw, b"again\r\n")
    raw.sendall(b"\x10")
    raw.sendall(b"\x11")
    read_to_end(raw)
    raw.close()
    tty.reload()
    check(tty.status == "running", f"detached with ctrl-p,ctrl-q: the container still runs ({tty.status})")
    try:
        client.api.attach_socket(tty.id, params={"stdin": 1, "stream": 1, "detachKeys": "ctrl-1"})
        raise AssertionError("bad detach keys were accepted")
    except APIError as error:
        check(error.status_code == 400 and "ctrl-1" in str(error), f"bad detach keys refused: {error}")

    # exec -it with DetachKeys: the stream ends, the exec'd process keeps running.
    exec_id = client.api.exec_create(tty.id, ["sh"], stdin=True, tty=True, detach_keys="ctrl-x,x")["Id"]
    check(client.api.exec_inspect(exec_id)["DetachKeys"] == "ctrl-x,x", "exec inspect shows DetachKeys")
    sock = client.api.exec_start(exec_id, tty=True, socket=True)
    raw = getattr(sock, "_sock", sock)
    raw.sendall(b"echo $((6*7))Z\n")
    read_until(raw, b"42Z")
    raw.sendall(b"\x18x")
    read_to_end(raw)
    raw.close()
    check(client.api.exec_inspect(exec_id)["Running"], "the exec'd shell still runs after the detach keys")
    try:
        client.api.exec_create(tty.id, ["sh"], stdin=True, tty=True, detach_keys="ctrl-p,,ctrl-q")
        raise AssertionError("bad exec DetachKeys were accepted")
    except APIError as error:
        check(error.status_code == 400 and "ctrl-p,,ctrl-q" in str(error), f"bad exec DetachKeys refused: {error}")
    tty.remove(force=True)


def main():
    client = docker.from_env()
    check(client.ping(), "ping")
    version = client.version()
    check(version["ApiVersion"] == "1.45", "version reports API 1.45")

    # containers.run without detach: create, start, wait, logs.
    output = client.containers.run("busybox", ["sh", "-c", "echo out; echo err >&2"], stderr=True, remove=True)
    check(b"out\n" in output and b"err\n" in output, f"containers.run output {output!r}")

    name = "kujirad-py-" + uuid.uuid4().hex[:8]
    container = client.containers.run("busybox", ["sh", "-c", "echo one; echo two"], detach=True, name=name)
    result = container.wait()
    check(result["StatusCode"] == 0, f"wait status {result}")
    check(container.logs() == b"one\ntwo\n", f"logs {container.logs()!r}")
    check(container.logs(tail=1) == b"two\n", "logs tail=1")
    container.reload()
    check(container.status == "exited", f"status {container.status}")
    check(container.name == name, "container name")
    check(any(c.id == container.id for c in client.containers.list(all=True)), "containers.list(all=True)")
    check(client.containers.list(filters={"name": name}) == [], "a stopped container is not in the running list")
    container.remove()
    try:
        client.containers.get(name)
        raise AssertionError("a removed container is still there")
    except NotFound:
        print("ok: removed container is gone (404)")

    failed = client.containers.create("busybox", ["sh", "-c", "exit 7"])
    failed.start()
    check(failed.wait()["StatusCode"] == 7, "exit status 7")
    failed.remove()

    try:
        client.containers.create("busybox", "true", links={"other": "db"})
        raise AssertionError("links were silently accepted")
    except APIError as error:
        check(error.status_code == 400 and "Links" in str(error), f"unsupported field refused: {error}")

    # exec without a TTY: output and exit code.
    worker = client.containers.run("busybox", ["sleep", "600"], detach=True, name="kujirad-py-" + uuid.uuid4().hex[:8])
    code, output = worker.exec_run(["sh", "-c", "echo from-exec; exit 3"])
    check(code == 3 and output == b"from-exec\n", f"exec_run {code} {output!r}")
    code, (out, err) = worker.exec_run(["sh", "-c", "echo o; echo e >&2"], demux=True)
    check(code == 0 and out == b"o\n" and err == b"e\n", f"exec_run demux {code} {out!r} {err!r}")

    interactive_checks(client)

    # networks: create, list, connect, inspect, disconnect, remove.
    network_name = "kujirad-py-" + uuid.uuid4().hex[:8]
    network = client.networks.create(network_name, labels={"test": "kujirad"})
    check(any(n.name == network_name for n in client.networks.list(names=[network_name])), "networks.list by name")
    network.connect(worker, aliases=["pyalias"])
    network.reload()
    check([c.id for c in network.containers] == [worker.id], "network.connect: the container is a member")
    worker.reload()
    check(network_name in worker.attrs["NetworkSettings"]["Networks"], "the container's NetworkSettings list the network")
    network.disconnect(worker)
    worker.remove(force=True)
    network.remove()
    try:
        client.networks.get(network_name)
        raise AssertionError("a removed network is still there")
    except NotFound:
        print("ok: removed network is gone (404)")

    images = client.images.list()
    check(any("busybox:latest" in image.tags for image in images), "images.list has busybox:latest")
    image = client.images.get("busybox")
    tag = "kujirad-py-" + uuid.uuid4().hex[:8]
    check(image.tag(tag, "v1"), "images tag")
    check(f"{tag}:v1" in client.images.get("busybox").tags, "the new tag is listed")
    client.images.remove(f"{tag}:v1")
    check(f"{tag}:v1" not in client.images.get("busybox").tags, "images.remove removed the tag")
    try:
        client.images.get("no-such-image-" + tag)
        raise AssertionError("a missing image was found")
    except NotFound:
        print("ok: missing image is 404")
    volume_name = "kujirad-py-" + uuid.uuid4().hex[:8]
    volume = client.volumes.create(volume_name, labels={"test": "kujirad"})
    check(volume.name == volume_name, "volumes.create")
    check(any(v.name == volume_name for v in client.volumes.list(filters={"label": "test=kujirad"})), "volumes.list with a label filter")
    output = client.containers.run("busybox", ["sh", "-c", "echo data > /v/f; cat /v/f"], volumes={volume_name: {"bind": "/v", "mode": "rw"}}, remove=True)
    check(output == b"data\n", f"a container wrote to the volume: {output!r}")
    check(client.volumes.get(volume_name).attrs["Mountpoint"].endswith("/_data"), "volumes.get")
    volume.remove()
    try:
        client.volumes.get(volume_name)
        raise AssertionError("a removed volume is still there")
    except NotFound:
        print("ok: removed volume is gone (404)")
    print("docker-py: all checks passed")


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # noqa: BLE001 - the test reports any failure
        print("FAILED:", repr(error), file=sys.stderr)
        sys.exit(1)
