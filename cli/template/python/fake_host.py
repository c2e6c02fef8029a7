"""A fake of the gateway for tests run natively: installs stand-ins for the
modules componentize-py generates (`wit_world`, its imports and
`componentize_py_types`), so that `app` imports outside a component.
`host.answer(...)` queues what `send` answers next; `host.sent` lists what
the workflow sent. Import it before `app`.
"""

import sys
import types


class _Named(type):
    """A WIT type: enum members are its attributes (`Api.REST`)."""

    def __getattr__(cls, member):
        if member.startswith("__"):
            raise AttributeError(member)
        return f"{cls.__name__}.{member}"


class _Record(metaclass=_Named):
    """A record or variant case: keyword fields, or one `value`."""

    def __init__(self, *args, **fields):
        if args:
            self.value = args[0]
        self.__dict__.update(fields)


def _module(name, **attrs):
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    sys.modules[name] = module
    return module


_types = {}


def _type(name):
    if name.startswith("__"):
        raise AttributeError(name)
    return _types.setdefault(name, _Named(name, (_Record,), {}))


class Err(Exception):
    """`componentize_py_types.Err`: a result's `err`."""

    def __init__(self, value):
        super().__init__(value)
        self.value = value


class Host:
    def __init__(self):
        self.reset()

    def reset(self):
        self.sent, self.logs, self.answers = [], [], []

    def answer(self, status=200, body="", fault=None):
        """Queues an answer; `fault` = (code, message) makes it a fault."""
        t = sys.modules["wit_world.imports.types"]
        verdict = t.Verdict_Fault(t.Fault(code=fault[0], message=fault[1])) if fault else t.Verdict_Success()
        self.answers.append(t.UpstreamResponse(status=status, headers=[], body=body.encode(), verdict=verdict))

    def send(self, request):
        self.sent.append(request)
        if not self.answers:
            raise AssertionError(f"the fake host has no answer queued for {request.method} {request.path}")
        return self.answers.pop(0)


host = Host()
_module("componentize_py_types", Err=Err)
_module("wit_world", WitWorld=object)
_module("wit_world.imports")
_module("wit_world.imports.types").__getattr__ = _type
_module("wit_world.imports.upstream", send=lambda request: host.send(request))
_module("wit_world.imports.context", log=lambda level, message: host.logs.append((level, message)), config=lambda key: None)
