# hearth's Python interpreter context: run by the guest agent as `python3 -u repl-python.py`.
#
# Requests arrive on fd 3 and answers leave on fd 4, one JSON object per line, so the program's own
# stdin, stdout and stderr stay its own (stdout and stderr go to the agent as the run's output).
# Each request is {"seq": int, "code": str}; each answer is {"seq", "executionCount", "result"?,
# "error"?} (the agent ignores answers whose seq is not the run's: the program can write to fd 4). The
# first line written is {"ready": true}. Globals live in a real __main__ module across runs.
#
# SIGINT raises KeyboardInterrupt only while code runs: an interrupt that lands between runs must
# not end the loop. The agent sends it on timeout and kills the process if the code ignores it.
import ast
import base64
import builtins
import io
import json
import linecache
import os
import signal
import subprocess
import sys
import traceback
import types

_requests = io.open(3, "r", encoding="utf-8", newline="\n")
_answers = io.open(4, "w", encoding="utf-8", newline="\n")
_busy = False
_count = 0
_here = os.path.abspath(__file__)
# Caps from the agent ({"text/plain": n, ...}): past them a value is cut (text) or dropped (the
# rest), so a huge repr never crosses the pipe. The agent cuts again, exactly.
_caps = json.loads(os.environ.pop("HEARTH_REPL_CAPS", "{}"))

_main = types.ModuleType("__main__")
_main.__dict__["__builtins__"] = builtins
sys.modules["__main__"] = _main
_ns = _main.__dict__
sys.argv = [""]
# The user's modules are found from the working directory, not from the tools layer.
sys.path[0] = ""


def _on_sigint(signum, frame):
    if _busy:
        raise KeyboardInterrupt


signal.signal(signal.SIGINT, _on_sigint)


def _shell(cmd):
    """`!cmd`: runs through the shell; its output goes straight to the run's stdout/stderr."""
    sys.stdout.flush()
    sys.stderr.flush()
    subprocess.call(cmd, shell=True, stdin=subprocess.DEVNULL)


_ns["__hearth_shell__"] = _shell


def _shell_lines(code):
    """Rewrites IPython-style `!cmd` lines into calls of __hearth_shell__, keeping indentation."""
    out = []
    for line in code.split("\n"):
        body = line.lstrip()
        if body.startswith("!") and not body.startswith("!="):
            indent = line[: len(line) - len(body)]
            line = "%s__hearth_shell__(%r)" % (indent, body[1:])
        out.append(line)
    return "\n".join(out)


def _user_traceback(exc):
    """The traceback without the driver's own frames."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == _here:
        tb = tb.tb_next
    if isinstance(exc, SyntaxError):
        return "".join(traceback.format_exception_only(type(exc), exc))
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _error(exc):
    try:
        value = str(exc)
    except BaseException:
        value = "<unprintable %s>" % type(exc).__name__
    try:
        tb = _user_traceback(exc)
    except BaseException:
        tb = ""
    cap = _caps.get("error", 65536)
    return {"name": type(exc).__name__[:256], "value": value[:cap], "traceback": tb[-cap:]}


def _figure_of(value):
    """A matplotlib Figure for the value (a Figure, or an Axes of one), else None."""
    if not type(value).__module__.startswith("matplotlib"):
        return None
    if hasattr(value, "savefig"):
        return value
    fig = getattr(value, "figure", None)
    return fig if hasattr(fig, "savefig") else None


def _formats(value):
    formats = {"text/plain": repr(value)}
    html = getattr(value, "_repr_html_", None)
    if callable(html) and not isinstance(value, type):
        text = html()
        if isinstance(text, str):
            formats["text/html"] = text
    js = getattr(value, "_repr_json_", None)
    if callable(js) and not isinstance(value, type):
        data = js()
        if isinstance(data, tuple):
            data = data[0]
        formats["application/json"] = json.dumps(data, default=str)
    fig = _figure_of(value)
    if fig is not None:
        buf = io.BytesIO()
        fig.savefig(buf, format="png")
        formats["image/png"] = base64.b64encode(buf.getvalue()).decode("ascii")
    else:
        png = getattr(value, "_repr_png_", None)
        if callable(png) and not isinstance(value, type):
            data = png()
            if isinstance(data, bytes):
                formats["image/png"] = base64.b64encode(data).decode("ascii")
    return formats


def _run(code):
    global _busy, _count
    _count += 1
    name = "<cell-%d>" % _count
    answer = {"executionCount": _count}
    _busy = True
    try:
        source = _shell_lines(code)
        linecache.cache[name] = (len(source), None, source.splitlines(True), name)
        tree = ast.parse(source, name, "exec")
        last = None
        if tree.body and isinstance(tree.body[-1], ast.Expr):
            last = ast.Expression(tree.body.pop().value)
        exec(compile(tree, name, "exec"), _ns)
        if last is not None:
            value = eval(compile(last, name, "eval"), _ns)
            if value is not None:
                _ns["_"] = value
                formats = _formats(value)
                for mime, cap in _caps.items():
                    if mime in formats and len(formats[mime]) > cap:
                        answer["truncated"] = True
                        if mime == "text/plain":
                            formats[mime] = formats[mime][:cap]
                        else:
                            del formats[mime]
                answer["result"] = {"text": formats["text/plain"], "formats": formats}
    except BaseException as exc:  # KeyboardInterrupt and SystemExit included: the context lives on
        answer["error"] = _error(exc)
    finally:
        _busy = False
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass
    return answer


def _main_loop():
    _answers.write(json.dumps({"ready": True}) + "\n")
    _answers.flush()
    while True:
        try:
            line = _requests.readline()
        except KeyboardInterrupt:
            continue
        if not line:
            return
        try:
            request = json.loads(line)
            code, seq = request["code"], request["seq"]
        except (ValueError, KeyError, TypeError):
            continue
        answer = _run(code)
        answer["seq"] = seq
        while True:
            try:
                _answers.write(json.dumps(answer, default=str) + "\n")
                _answers.flush()
                break
            except KeyboardInterrupt:
                continue


_main_loop()
