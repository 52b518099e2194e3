# hearth's Python interpreter context: run by the guest agent as `python3 -u repl-python.py`.
#
# Requests arrive on fd 3 and answers leave on fd 4, one JSON object per line, so the program's own
# stdin, stdout and stderr stay its own (stdout and stderr go to the agent as the run's output).
# Each request is {"seq": int, "code": str, "env"?: {str: str}}; each answer is {"seq",
# "executionCount", "result"?, "displays"?, "error"?} (the agent ignores answers whose seq is not the run's: the program can write to fd 4). The
# first line written is {"ready": true}. Globals live in a real __main__ module across runs.
# "env" holds variables for that run only: os.environ has its old values back after it.
#
# Displays work as in a notebook with matplotlib's inline backend: `display(x)` and `plt.show()`
# add the value or the open figures to the run's "displays"; figures still open when a run ends
# are shown then too, and closed.
#
# SIGINT raises KeyboardInterrupt only while code runs: an interrupt that lands between runs must
# not end the loop. The agent sends it on timeout and kills the process if the code ignores it.
import ast
import base64
import builtins
import importlib.util
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
_display_caps = (_caps.pop("displays", 8), _caps.pop("displayChars", 524288))
# What the current run displayed, and their size so far.
_displays = []
_display_chars = 0
_display_lost = False

# Whole lines, as a notebook sends them: `print("hi")` is one chunk of output, not "hi" then "\n".
# A partial line waits for its newline, a flush, or the end of the run.
for _stream in (sys.stdout, sys.stderr):
    try:
        _stream.reconfigure(line_buffering=True, write_through=False)
    except (AttributeError, ValueError):
        pass

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


def _capped(formats):
    """Cuts text past its cap and drops other formats past theirs; True when something was lost."""
    lost = False
    for mime, cap in _caps.items():
        if mime in formats and len(formats[mime]) > cap:
            lost = True
            if mime == "text/plain":
                formats[mime] = formats[mime][:cap]
            else:
                del formats[mime]
    return lost


def _add_display(formats):
    """Keeps a display for the answer unless the run already displayed its share."""
    global _display_chars, _display_lost
    if _capped(formats):
        _display_lost = True
    size = len(formats["text/plain"]) + sum(len(v) for v in formats.values())
    if len(_displays) >= _display_caps[0] or _display_chars + size > _display_caps[1]:
        _display_lost = True
        return
    _display_chars += size
    _displays.append({"text": formats["text/plain"], "formats": formats})


def _display(*objs, **kwargs):
    """`display(x, ...)`, as in a notebook: each value becomes a display of the run."""
    for obj in objs:
        _add_display(_formats(obj))


builtins.display = _display


def _flush_figures(skip=None):
    """Shows every open pyplot figure (but `skip`, the run's main result) as a display and closes them."""
    plt = sys.modules.get("matplotlib.pyplot")
    if plt is None:
        return
    for num in list(plt.get_fignums()):
        fig = plt.figure(num)
        if fig is not skip:
            _add_display(_formats(fig))
        plt.close(fig)


class _PyplotHook:
    """Replaces pyplot.show when pyplot is first imported, without importing matplotlib early."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "matplotlib.pyplot":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        load = spec.loader.exec_module

        def exec_module(module):
            load(module)
            module.show = lambda *args, **kwargs: _flush_figures()

        spec.loader.exec_module = exec_module
        return spec


sys.meta_path.insert(0, _PyplotHook())


def _apply_env(env):
    """Sets a run's variables; returns what to put back."""
    saved = {}
    if isinstance(env, dict):
        for key, value in env.items():
            if isinstance(key, str) and isinstance(value, str):
                saved[key] = os.environ.get(key)
                os.environ[key] = value
    return saved


def _restore_env(saved):
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def _run(code, env=None):
    global _busy, _count, _displays, _display_chars, _display_lost
    _count += 1
    _displays = []
    _display_chars = 0
    _display_lost = False
    main_figure = None
    saved = _apply_env(env)
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
                main_figure = _figure_of(value)
                formats = _formats(value)
                if _capped(formats):
                    answer["truncated"] = True
                answer["result"] = {"text": formats["text/plain"], "formats": formats}
    except BaseException as exc:  # KeyboardInterrupt and SystemExit included: the context lives on
        answer["error"] = _error(exc)
    finally:
        _busy = False
        _restore_env(saved)
    try:
        _flush_figures(skip=main_figure)
    except BaseException:
        pass
    if _displays:
        answer["displays"] = _displays
    if _display_lost:
        answer["truncated"] = True
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
        answer = _run(code, request.get("env"))
        answer["seq"] = seq
        while True:
            try:
                _answers.write(json.dumps(answer, default=str) + "\n")
                _answers.flush()
                break
            except KeyboardInterrupt:
                continue


_main_loop()
