"""Groups the failures in schemathesis NDJSON reports (tests/fuzz/schemathesis.sh).

Usage: summarize.py [--token TOKEN] [--base URL] [--openapi FILE] REPORT.ndjson...

Prints, for each (operation, check, status, error code): how many cases hit
it, and the first one as a curl command (the admin token written as $TOKEN,
the server as $BASE), with the response. Then every request the server
closed without answering, and where 429s came from: whether each route that
answered 429 documents it.
"""

import argparse
import base64
import collections
import json
import os
import re
import shlex
import sys
import urllib.parse

SKIP_HEADERS = {"user-agent", "accept-encoding", "accept", "connection", "content-length", "x-schemathesis-testcaseid"}


def body_text(b):
    if b is None:
        return None
    if isinstance(b, dict) and "$base64" in b:
        return base64.b64decode(b["$base64"]).decode("utf-8", "backslashreplace")
    if isinstance(b, dict) and "string" in b:
        return b["string"]
    return str(b)


def quote(s):
    if s.isprintable() and s.isascii():
        return shlex.quote(s)
    out = []
    for ch in s:
        if ch == "'":
            out.append("\\'")
        elif ch == "\\":
            out.append("\\\\")
        elif ch.isascii() and ch.isprintable():
            out.append(ch)
        else:
            out.append("".join(f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogatepass")))
    return "$'" + "".join(out) + "'"


def curl(req, token, base):
    parts = ["curl", "-sS", "-i", "-X", req["method"]]
    for name, vals in req.get("headers", {}).items():
        if name.lower() in SKIP_HEADERS:
            continue
        for v in vals if isinstance(vals, list) else [vals]:
            if v == "":
                # curl drops a header given as "Name: "; "Name;" sends it empty.
                parts += ["-H", quote(f"{name};")]
            elif token and token in v:
                parts.append('-H "' + f"{name}: {v}".replace(token, "$TOKEN") + '"')
            else:
                parts += ["-H", quote(f"{name}: {v}")]
    body = body_text(req.get("body"))
    if body is not None:
        parts += ["--data-binary", quote(body)]
    uri = req["uri"]
    if base and uri.startswith(base):
        parts.append('"$BASE' + uri[len(base):].replace('"', '\\"').replace("$", "\\$") + '"')
    else:
        parts.append(quote(uri))
    return " ".join(parts)


def error_code(text):
    try:
        return json.loads(text)["error"]["code"]
    except Exception:
        return None


def templates(doc):
    """(regex, "METHOD template") for every operation, to name stateful steps."""
    out = []
    for path, ops in (doc or {}).get("paths", {}).items():
        rx = re.compile("^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(path)) + "$")
        for method in ops:
            out.append((rx, method.upper(), path))
    # Literal segments first: /tickets/{ticket}/cancel before /windows/{window}/{action}.
    out.sort(key=lambda t: t[2].count("{"))
    return out


def name_of(label, req, tpls):
    if label.startswith(("GET ", "POST ", "PUT ", "DELETE ", "PATCH ")):
        return label
    path = urllib.parse.urlsplit(req["uri"]).path
    for rx, method, tpl in tpls:
        if method == req["method"] and rx.match(path):
            return f"{method} {tpl} ({label})"
    return f"{req['method']} {path} ({label})"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--token")
    ap.add_argument("--base")
    ap.add_argument("--openapi")
    ap.add_argument("reports", nargs="+")
    a = ap.parse_args()
    doc = None
    openapi = a.openapi or os.path.join(os.path.dirname(a.reports[0]), "openapi.json")
    if os.path.exists(openapi):
        doc = json.load(open(openapi))

    tpls = templates(doc)
    groups = collections.OrderedDict()
    dropped = collections.OrderedDict()
    statuses = collections.Counter()
    errors = []
    for path in a.reports:
        if not os.path.exists(path):
            print(f"(no report {path}: the pass did not get far)")
            continue
        run = os.path.basename(path).removesuffix(".ndjson")
        for line in open(path):
            ev = json.loads(line)
            if "NonFatalError" in ev:
                e = ev["NonFatalError"]
                errors.append((run, e.get("label"), e["value"].get("type"), e["value"].get("message")))
                continue
            sf = ev.get("ScenarioFinished")
            if not sf:
                continue
            rec = sf["recorder"]
            for cid, inter in rec.get("interactions", {}).items():
                label = name_of(rec["label"], inter["request"], tpls)
                resp = inter.get("response")
                if resp is None:
                    key = (label, run)
                    if key not in dropped:
                        dropped[key] = [0, inter["request"]]
                    dropped[key][0] += 1
                    continue
                statuses[(label, resp["status_code"])] += 1
                for check in rec.get("checks", {}).get(cid, []):
                    if check["status"] != "failure":
                        continue
                    text = body_text(resp.get("content")) or ""
                    f = check.get("failure_info", {}).get("failure", {})
                    key = (label, check["name"], resp["status_code"], error_code(text) or f.get("title", ""))
                    g = groups.setdefault(key, {"count": 0, "runs": set(), "req": inter["request"], "resp": text, "msg": f.get("message", "")})
                    g["count"] += 1
                    g["runs"].add(run)

    print(f"{len(groups)} distinct failures (operation, check, status, error code); {sum(g['count'] for g in groups.values())} failing cases\n")
    for (label, check, status, code), g in groups.items():
        print(f"- {label}: {check}: {status} {code}  [{g['count']}x; {', '.join(sorted(g['runs']))}]")
        msg = " ".join(g["msg"].split())
        if msg:
            print(f"    {msg[:300]}")
        print(f"    response: {' '.join(g['resp'].split())[:300]}")
        print(f"    {curl(g['req'], a.token, a.base)}")
    if dropped:
        print("\nrequests the server closed without an answer (a panic? see the server log):")
        for (label, run), (n, req) in dropped.items():
            print(f"- {label} [{n}x; {run}]\n    {curl(req, a.token, a.base)}")
    if errors:
        print("\nerrors (connection errors are the server's; others may be the tool's: see the pass's output):")
        for run, label, kind, message in errors:
            print(f"- {label} [{run}]: {kind}: {' '.join(str(message).split())[:300]}")
    limited = sorted({label for (label, status) in statuses if status == 429})
    if limited:
        print("\n429 answers:")
        for label in limited:
            documented = "?"
            if doc:
                method, path = label.split(" ", 1)
                op = doc["paths"].get(path, {}).get(method.lower(), {})
                documented = "documented" if "429" in op.get("responses", {}) else "NOT documented"
            print(f"- {label}: {statuses[(label, 429)]}x, {documented}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
