"""The benchmark's output: a markdown table of medians and ratios, and a PNG chart of
ferry's ratios against nginx and HAProxy (drawn with gnuplot)."""

import math
import os
import statistics
import subprocess
import tempfile

from .figures import FIGURES, GROUPS, TLS_FIGURES, figure_label

TARGETS = ["direct", "ferry", "nginx", "haproxy"]
TITLES = {"direct": "direct", "ferry": "ferry", "nginx": "nginx", "haproxy": "HAProxy"}
PEERS = ["nginx", "haproxy"]

SHORT = {
    "http_rps": "HTTP req/s", "http_p99": "HTTP p99", "conn_rate": "new conn/s",
    "large_mbps": "large resp", "ws_up_mbps": "WS up", "ws_down_mbps": "WS down",
    "ws_echo_mbps": "WS echo", "rtt_pin_p50": "RTT p50 pin", "rtt_pin_p99": "RTT p99 pin",
    "rtt_p50": "RTT p50", "rtt_p99": "RTT p99", "idle_bytes": "mem/tunnel",
    "idle_fds": "fds/tunnel", "idle_kernel": "kernel/tunnel",
    "https_rps": "HTTPS req/s", "https_p99": "HTTPS p99", "tls_conn_rate": "new TLS conn/s",
    "https_large_mbps": "HTTPS large", "wss_up_mbps": "WSS up", "wss_down_mbps": "WSS down",
    "wss_echo_mbps": "WSS echo", "wss_rtt_pin_p50": "WSS RTT p50 pin",
    "wss_rtt_pin_p99": "WSS RTT p99 pin", "wss_idle_bytes": "mem/wss tunnel",
    "wss_idle_fds": "fds/wss tunnel", "wss_idle_kernel": "kernel/wss tunnel",
}

# The two tables (and chart panels) of each worker count.
PLAIN_FIGURES = [k for k in FIGURES if k not in TLS_FIGURES]
KINDS = [("HTTP and WebSocket", PLAIN_FIGURES), ("HTTPS and wss://", TLS_FIGURES)]


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratios(series, key, peer):
    """(ratio of medians, [per-round ratios]) of ferry/peer for one figure."""
    f, p = series.get(key, {}).get("ferry", []), series.get(key, {}).get(peer, [])
    mf, mp = median(f), median(p)
    whole = mf / mp if mf is not None and mp else None
    rounds = [a / b for a, b in zip(f, p) if a is not None and b]
    return whole, rounds


def fmt_value(key, v):
    if v is None:
        return "—"
    unit = FIGURES[key][1]
    if unit in ("req/s", "conn/s", "bytes"):
        return f"{v:,.0f}"
    if unit == "ms":
        return f"{v:.2f}"
    if unit == "fds":
        return f"{v:.2f}"
    if unit == "µs":
        return f"{v:.1f}"
    return f"{v:,.0f}"


def fmt_ratio(r):
    return "—" if r is None else f"{r:.2f}×"


def fmt_range(rounds):
    if not rounds:
        return "—"
    if len(rounds) == 1:
        return f"{rounds[0]:.2f}"
    return f"{min(rounds):.2f}–{max(rounds):.2f}"


def tls_note(run):
    """What sits under the TLS table: how TLS is set up, and why there is no direct
    figure."""
    text = ("TLS is terminated by the proxy on a second listener (127.0.0.1, port base + 3) with "
            "a self-signed ECDSA P-256 certificate made for the run, TLSv1.2 and TLSv1.3, each "
            "proxy's default ciphers and a shared session cache; the proxy talks plain HTTP to "
            "the upstream. *direct* is — because the upstream does not speak TLS: there is no "
            "TLS connection without a proxy to compare with. bench-http and bench-ws keep no "
            "sessions: every new connection is a full handshake (certificate not verified, "
            "SNI localhost, ALPN http/1.1); wrk uses OpenSSL's defaults as well.")
    seen = run.get("tls") or {}
    if seen:
        text += " Negotiated: " + "; ".join(f"{TITLES.get(k, k)}: {v}" for k, v in seen.items()) + "."
    return text


def figures_table(series, settings, keys):
    arrow = {True: "↑", False: "↓"}
    head = ["Figure", "unit"] + [TITLES[t] for t in TARGETS] + [
        "ferry/nginx", "per round", "ferry/HAProxy", "per round"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * 2 + "---:|" * (len(head) - 2)]
    for key in keys:
        if key not in series:
            continue
        cells = [f"{figure_label(key, settings)} {arrow[FIGURES[key][2]]}", FIGURES[key][1]]
        cells += [fmt_value(key, median(series[key].get(t, []))) for t in TARGETS]
        for peer in PEERS:
            whole, rounds = ratios(series, key, peer)
            cells += [fmt_ratio(whole), fmt_range(rounds)]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def usage_table(usage):
    head = ["Load"] + [TITLES[t] for t in TARGETS]
    rows = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * len(TARGETS)]
    for group in GROUPS:
        if group not in usage:
            continue
        cells = [group]
        for t in TARGETS:
            samples = usage[group].get(t, [])
            if not samples:
                cells.append("—")
                continue
            parts = [median([s[k] for s in samples]) for k in ("load", "proxy", "upstream", "other")]
            text = [f"{p:.0f}" for p in parts]
            if t == "direct":
                text[1] = "–"
            cells.append(" / ".join(text))
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def markdown(run):
    """The whole report. `run` is the dict the runner builds (see tests/bench/run)."""
    s = run["settings"]
    out = [f"# ferry benchmark: {run['date']}", "",
           f"{run['kind']} run, {run['rounds']} interleaved round(s) per worker count "
           f"(ferry, nginx, HAProxy and the direct connection in turn); medians of the rounds.", "",
           "## Machine", ""]
    out += [f"- {line}" for line in run["machine"]]
    out.append("")
    for workers, series in run["results"].items():
        out += [f"## {workers} worker{'s' if workers > 1 else ''} (threads for HAProxy)", ""]
        for title, keys in KINDS:
            if not any(k in series for k in keys):
                continue
            out += [f"### {title}", ""] + figures_table(series, s, keys) + [""]
            if keys is TLS_FIGURES:
                out += [tls_note(run), ""]
    out += ["↑ higher is better, ↓ lower is better. Ratios are ferry/peer of the medians; "
            "\"per round\" is the range of the ratios within each round. MB/s = 10⁶ bytes/s. "
            "*direct* is the load against the upstream with no proxy: the physical limit.", ""]
    if run.get("conftest"):
        out += ["## Configuration test time", "",
                f"`-t` on a generated configuration with {run['conftest']['locations']:,} locations "
                f"and a {run['conftest']['map_entries']:,}-entry map (median of 3 runs):", "",
                "| command | seconds |", "|---|---:|"]
        for name, (seconds, why) in run["conftest"]["times"].items():
            out.append(f"| `{name}` | {f'{seconds:.3f}' if seconds is not None else 'skipped: ' + why} |")
        out.append("")
    for workers, usage in run["usage"].items():
        threads = (f" (per thread for tls-conn, which runs {s.get('tls_conn_threads', 1)})"
                   if "tls-conn" in usage else "")
        out += [f"## CPU use during each load, {workers} worker{'s' if workers > 1 else ''}", "",
                "Median % of one core: load generator / proxy / upstream / everything else on the "
                f"machine (other users of its cores: noise). A load generator near 100%{threads} would "
                "be the bottleneck; all processes share the machine's cores.", ""]
        out += usage_table(usage)
        out.append("")
    if run["notes"]:
        out += ["## Notes", ""] + [f"- {n}" for n in run["notes"]] + [""]
    out += ["## Rerun", "", "```", "tests/bench/run            # full run, about 25–30 minutes",
            "tests/bench/run --quick    # smoke run, about 3 minutes",
            "tests/bench/run --help     # select figures, proxies, rounds, workers", "```", ""]
    return "\n".join(out)


def advantage(key, whole, rounds):
    """Ratio turned so that above 1 means ferry is better, with its per-round range."""
    if whole is None:
        return None
    if FIGURES[key][2]:
        return whole, min(rounds, default=whole), max(rounds, default=whole)
    inverted = [1 / r for r in rounds if r]
    return 1 / whole, min(inverted, default=1 / whole), max(inverted, default=1 / whole)


def _power_of_two_range(values):
    lo = min([v for v in values if v > 0] + [0.5])
    hi = max(values + [2.0])
    return 2.0 ** math.floor(math.log2(lo)), 2.0 ** math.ceil(math.log2(hi))


def _tic_label(v):
    return f"{v:g}" if v >= 1 else f"1/{1 / v:g}"


def chart(run, path):
    """Draws ferry's advantage over nginx and HAProxy per figure: bars from 1 up
    (ferry better) or down (ferry worse) on a log scale, whiskers for the per-round
    range. Returns an error string, or None when the PNG was written."""
    panels = []
    values = []
    with tempfile.TemporaryDirectory() as tmp:
        for workers, series in run["results"].items():
            for kind, (title, keys) in enumerate(KINDS):
                lines = []
                for key in keys:
                    if key not in series or key in ("idle_kernel", "wss_idle_kernel"):
                        continue
                    cols = []
                    for peer in PEERS:
                        a = advantage(key, *ratios(series, key, peer))
                        cols += ["NaN"] * 3 if a is None else [f"{v:.4f}" for v in a]
                        values += list(a or [])
                    lines.append(f'{len(lines)} "{SHORT[key]}" ' + " ".join(cols))
                if lines:
                    data = os.path.join(tmp, f"w{workers}-{kind}.dat")
                    with open(data, "w") as f:
                        f.write("\n".join(lines) + "\n")
                    panels.append((f"{workers} worker{'s' if workers > 1 else ''}, {title}", data,
                                   len(lines)))
        if not panels:
            return "no ratios to draw"
        lo, hi = _power_of_two_range(values)
        tics = []
        v = lo
        while v <= hi:
            tics.append(f"'{_tic_label(v)}' {v:g}")
            v *= 2
        script = [
            f"set terminal pngcairo size 1400,{420 * len(panels)} font 'DejaVu Sans,11'",
            f"set output '{path}'",
            f"set multiplot layout {len(panels)},1",
            # Log scale: 2x better and 2x worse are the same distance from the line at 1.
            "set logscale y 2", f"set yrange [{lo:g}:{hi:g}]", f"set ytics ({', '.join(tics)})",
            "set grid ytics", "set xtics rotate by -30 left", "set key top left",
            "set ylabel \"ferry's advantage (>1: ferry better)\"", "set style fill solid 0.85 border -1",
        ]
        bar = "($3<1?$3:1):($3<1?1:$3)"
        for title, data, count in panels:
            script += [
                f"set title 'ferry vs nginx and HAProxy, {title} "
                "(bars: ratio of medians; whiskers: per-round range)'",
                f"set xrange [-0.6:{count - 0.4}]",
                f"plot '{data}' using 1:(NaN):xtic(2) notitle, "
                f"'' using ($1-0.18):3:($1-0.34):($1-0.02):{bar} with boxxyerror "
                "lc rgb '#2f7ed8' title 'vs nginx', "
                "'' using ($1-0.18):3:4:5 with yerrorbars lc rgb 'black' pt -1 notitle, "
                f"'' using ($1+0.18):6:($1+0.02):($1+0.34):{bar.replace('$3', '$6')} with boxxyerror "
                "lc rgb '#f28f43' title 'vs HAProxy', "
                "'' using ($1+0.18):6:7:8 with yerrorbars lc rgb 'black' pt -1 notitle, "
                "1 with lines lc rgb 'black' dt 2 notitle",
            ]
        script.append("unset multiplot")
        gp = os.path.join(tmp, "chart.gp")
        with open(gp, "w") as f:
            f.write("\n".join(script) + "\n")
        proc = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
        if proc.returncode != 0:
            return proc.stderr.strip()[-300:]
    return None
