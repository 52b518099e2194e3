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
#
# llm_query, llm_query_batched and rlm_query (builtins) ask the host while code runs: a call line
# {"call": n, "method", "params"} goes out on fd 4 and its answer {"call": n, "ok", "value" |
# "error"} comes back on fd 3, between the requests. Every read of fd 3 goes through _await_line,
# so that calls from several threads and the main loop never take each other's lines. A call
# blocks its thread until the answer comes; an interrupt (or the run's timeout) ends the wait.
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
import threading
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
_call_caps = (
    _caps.pop("promptChars", 1048576),
    _caps.pop("callChars", 2097152),
    _caps.pop("batchPrompts", 256),
)
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


# fd 3's lines as they are read: answers to calls by id (only for calls still waiting), and
# requests for the main loop, in order.
_cv = threading.Condition()
_reading = False
_eof = False
_queued = []
_waiting = set()
_call_answers = {}
_call_ids = iter(range(1, 1 << 62))
_write_lock = threading.Lock()
_NOTHING = object()


def _take(want):
    if want is None:
        return _queued.pop(0) if _queued else ("" if _eof else _NOTHING)
    if want in _call_answers:
        return _call_answers.pop(want)
    return None if _eof else _NOTHING


def _file(line):
    global _eof
    if not line:
        _eof = True
        return
    try:
        obj = json.loads(line)
    except ValueError:
        obj = None
    if isinstance(obj, dict) and "call" in obj:
        # Only the agent's answers count; anything else with a "call" (a program can open this
        # pipe for writing through /proc) is dropped.
        n = obj["call"]
        if isinstance(n, int) and n in _waiting:
            _call_answers[n] = obj
    else:
        _queued.append(line)


def _await_line(want):
    """The next request line (want=None; "" at the end) or the answer to call `want` (None at the end)."""
    global _reading
    while True:
        with _cv:
            while True:
                got = _take(want)
                if got is not _NOTHING:
                    return got
                if not _reading:
                    _reading = True
                    break
                _cv.wait()
        line = None
        try:
            line = _requests.readline()
        finally:
            with _cv:
                _reading = False
                if line is not None:
                    _file(line)
                _cv.notify_all()


def _write_answer(obj):
    text = json.dumps(obj, default=str) + "\n"
    with _write_lock:
        _answers.write(text)
        _answers.flush()


def _call(method, params):
    with _cv:
        n = next(_call_ids)
        _waiting.add(n)
    try:
        _write_answer({"call": n, "method": method, "params": params})
        answer = _await_line(n)
    finally:
        with _cv:
            _waiting.discard(n)
            _call_answers.pop(n, None)
    if answer is None:
        raise RuntimeError("%s: the agent went away" % method)
    if answer.get("ok") is True:
        return answer.get("value")
    raise RuntimeError(str(answer.get("error", "%s failed" % method)))


def _check_prompt(method, name, value):
    if not isinstance(value, str):
        raise TypeError("%s: %s must be a str, not %s" % (method, name, type(value).__name__))
    if len(value) > _call_caps[0]:
        raise ValueError("%s: %s is over %d characters" % (method, name, _call_caps[0]))


def _check_model(method, model):
    if model is not None and not isinstance(model, str):
        raise TypeError("%s: model must be a str or None" % method)


def llm_query(prompt, model=None):
    """Asks the session's sub model; returns its answer as a str."""
    _check_prompt("llm_query", "prompt", prompt)
    _check_model("llm_query", model)
    params = {"prompt": prompt} if model is None else {"prompt": prompt, "model": model}
    value = _call("llm_query", params)
    if not isinstance(value, str):
        raise RuntimeError("llm_query: the host answered something that is not a str")
    return value


def llm_query_batched(prompts, model=None):
    """Asks the sub model every prompt at once (the host runs them concurrently); answers in order."""
    if isinstance(prompts, str) or not isinstance(prompts, (list, tuple)):
        raise TypeError("llm_query_batched: prompts must be a list of str")
    prompts = list(prompts)
    if len(prompts) > _call_caps[2]:
        raise ValueError("llm_query_batched: at most %d prompts in one call" % _call_caps[2])
    for p in prompts:
        _check_prompt("llm_query_batched", "each prompt", p)
    if sum(len(p) for p in prompts) > _call_caps[1]:
        raise ValueError("llm_query_batched: the prompts are over %d characters together" % _call_caps[1])
    _check_model("llm_query_batched", model)
    if not prompts:
        return []
    params = {"prompts": prompts} if model is None else {"prompts": prompts, "model": model}
    value = _call("llm_query_batched", params)
    if not isinstance(value, list) or len(value) != len(prompts) or not all(isinstance(v, str) for v in value):
        raise RuntimeError("llm_query_batched: the host answered something that is not a list of str")
    return value


def rlm_query(prompt, context=None):
    """Runs a sub-RLM one level deeper on `prompt` (with `context` loaded in its REPL); returns its answer."""
    _check_prompt("rlm_query", "prompt", prompt)
    if context is not None:
        _check_prompt("rlm_query", "context", context)
    if len(prompt) + len(context or "") > _call_caps[1]:
        raise ValueError("rlm_query: prompt and context are over %d characters together" % _call_caps[1])
    params = {"prompt": prompt} if context is None else {"prompt": prompt, "context": context}
    value = _call("rlm_query", params)
    if not isinstance(value, str):
        raise RuntimeError("rlm_query: the host answered something that is not a str")
    return value


builtins.llm_query = llm_query
builtins.llm_query_batched = llm_query_batched
builtins.rlm_query = rlm_query


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
    _write_answer({"ready": True})
    while True:
        try:
            line = _await_line(None)
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
                _write_answer(answer)
                break
            except KeyboardInterrupt:
                continue


_main_loop()
