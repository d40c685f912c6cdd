"""Turns the harness's raw results into the markdown report: medians per scenario and the ratios."""
import statistics
import sys
from collections import defaultdict

results_path, runs, seconds, gateway_rss, scale_lines, sync_lines = sys.argv[1:7]
fulcrum_lines = sys.argv[7] if len(sys.argv) > 7 else ""
queued_lines = sys.argv[8] if len(sys.argv) > 8 else ""
rows = defaultdict(list)
for line in open(results_path):
    name, connections, run, rps, p50, p99, errors, requests = line.rstrip("\n").split("\t")
    rows[(name, int(connections))].append((float(rps), float(p50), float(p99), int(errors), int(requests)))


def median(name, connections, index):
    values = [r[index] for r in rows.get((name, connections), [])]
    return statistics.median(values) if values else None


print(f"Runs per scenario: {runs}, {seconds} s each; medians. Gateway peak RSS during the scenarios: {int(gateway_rss) // 1024} MiB.\n")
print("| scenario | connections | req/s | p50 ms | p99 ms | errors | vs ceiling | vs peer |")
print("|---|---|---|---|---|---|---|---|")
for (name, connections) in sorted(rows, key=lambda k: (k[0].startswith("peer_"), k[1], k[0])):
    if name.startswith("scale_"):
        continue
    rps, p50, p99 = (median(name, connections, i) for i in range(3))
    errors = sum(r[3] for r in rows[(name, connections)])
    ceiling = median("ceiling", connections, 0)
    peer = median("peer_" + name, connections, 0)
    vs_ceiling = f"{rps / ceiling:.0%}" if ceiling and not name.startswith("peer_") else ""
    vs_peer = f"{rps / peer:.1f}x" if peer else ""
    print(f"| {name} | {connections} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {errors} | {vs_ceiling} | {vs_peer} |")

if sync_lines.strip():
    print("\nInitial sync (Entra-shaped client, 8 workers):\n")
    print("| run | result | gateway peak RSS |")
    print("|---|---|---|")
    print(sync_lines.rstrip())

if fulcrum_lines.strip():
    print("\nInitial sync through the fulcrum backend in front of fulcrum-emulator (limit raised), with Fulcrum's calls:\n")
    print("| run | result | gateway peak RSS | Fulcrum calls (/_emulator/stats) |")
    print("|---|---|---|---|")
    print(fulcrum_lines.rstrip())

if queued_lines.strip():
    print("\nInitial sync, fulcrum backend with queued delivery:\n")
    print("| Fulcrum limit | identity provider's side | outbox | Fulcrum calls (/_emulator/stats) |")
    print("|---|---|---|---|")
    print(queued_lines.rstrip())

if scale_lines.strip():
    print("\nScale: `userName eq` at 64 connections on a store seeded with N members:\n")
    print("| members | p50 ms | p99 ms | req/s | gateway RSS | store on disk |")
    print("|---|---|---|---|---|---|")
    p50s = {}
    for line in scale_lines.strip().splitlines():
        size, rss, size_bytes = line.split()
        name = f"scale_{size}"
        rps, p50, p99 = (median(name, 64, i) for i in range(3))
        p50s[int(size)] = p50
        print(f"| {int(size):,} | {p50:.2f} | {p99:.2f} | {rps:,.0f} | {int(rss) // 1024} MiB | {int(size_bytes) / 1048576:.1f} MiB |")
    if len(p50s) == 2:
        small, large = sorted(p50s)
        print(f"\np50 ratio {large:,} / {small:,} members: {p50s[large] / p50s[small]:.2f}")
