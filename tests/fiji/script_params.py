"""Reading the ``#@`` parameter lines of a Fiji script (shared by both stand-ins).

Python 2.7 (Jython) and 3 syntax.  Fiji's script service reads lines such as
``#@ String (label="Model", value="nuclei2d") model`` and puts a value under that
name before the script runs; :func:`fill` does the same from NAME=VALUE texts and
the declared defaults, with no dialog.
"""

import re

PARAM = re.compile(r"^#@\s*(\w+)\s*(?:\((.*)\))?\s*(\w+)\s*$")


def parameters(path):
    """[(type, attributes text, name)] of the script's ``#@`` lines, in order."""
    found = []
    with open(path) as fh:
        for line in fh:
            m = PARAM.match(line.strip())
            if m:
                found.append((m.group(1), m.group(2) or "", m.group(3)))
    return found


def attribute(attrs, key):
    m = re.search(r'\b%s\s*=\s*("([^"]*)"|[^,\s)]+)' % key, attrs)
    if not m:
        return None
    return m.group(2) if m.group(2) is not None else m.group(1)


def choices(attrs):
    m = re.search(r"choices\s*=\s*\{([^}]*)\}", attrs)
    return [c.strip().strip('"') for c in m.group(1).split(",")] if m else None


def convert(kind, text, make_file):
    if text is None:
        return None
    if kind == "File":
        return make_file(text)
    if kind in ("Integer", "int", "Long", "long"):
        return int(text)
    if kind in ("Float", "float", "Double", "double"):
        return float(text)
    if kind in ("Boolean", "boolean"):
        return text.lower() == "true"
    return text


def fill(path, overrides, current_image, make_file):
    """The script's variables: NAME=VALUE overrides, else ``value=``, else None if
    ``required=false``; ``ImagePlus`` is the current image.  Raises ValueError for a
    missing required value, a value outside ``choices`` or an undeclared name."""
    overrides = dict(overrides)
    values = {}
    for kind, attrs, name in parameters(path):
        if kind == "ImagePlus":
            values[name] = current_image
            continue
        if name in overrides:
            text = overrides.pop(name)
        else:
            text = attribute(attrs, "value")
            if text is None and attribute(attrs, "required") != "false":
                raise ValueError("no value for required parameter %s %s" % (kind, name))
        allowed = choices(attrs)
        if allowed is not None and text not in allowed:
            raise ValueError("%s=%r is not one of the choices %s" % (name, text, allowed))
        values[name] = convert(kind, text, make_file)
    if overrides:
        raise ValueError("the script declares no parameter(s) %s" % sorted(overrides))
    return values
