"""Runs a command in a host pseudo-terminal: waits for `ready` in its output, types `input` (or,
when `input` is `SIGTERM`, sends the command that signal), and prints JSON {output, exitCode, pid}
when it ends. Used by the workflow debug test (a real terminal)."""
import json, os, pty, select, signal, sys, time

argv, ready, typed = json.loads(sys.argv[1]), sys.argv[2].encode(), sys.argv[3].encode()
pid, fd = pty.fork()
if pid == 0:
    os.execvp(argv[0], argv)
out, sent, deadline = b"", False, time.time() + 120
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    if not sent and ready in out:
        time.sleep(0.3)
        if typed == b"SIGTERM":
            time.sleep(1)
            os.kill(pid, signal.SIGTERM)
        else:
            os.write(fd, typed)
        sent = True
_, status = os.waitpid(pid, 0)
code = os.waitstatus_to_exitcode(status)
print(json.dumps({"output": out.decode("utf8", "replace"), "exitCode": code, "pid": pid}))
