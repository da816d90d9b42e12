#!/usr/bin/env python3
"""Module import graph of a Rust crate's src/ (file level) and its cycles.
usage: cycles.py SRC_DIR [CRATE_PREFIX]"""
import os, re, sys
root = sys.argv[1]
mods = {}
for dp, _, fs in os.walk(root):
    for f in fs:
        if f.endswith('.rs'):
            p = os.path.join(dp, f); rel = os.path.relpath(p, root)[:-3]
            parts = rel.split('/')
            if parts[-1] in ('mod', 'lib', 'main'): parts = parts[:-1]
            mods['::'.join(parts)] = p
def resolve(cur, path):
    # path like crate::a::b::c or super::x
    segs = path.split('::')
    if segs[0] == 'crate': base = []; segs = segs[1:]
    elif segs[0] == 'super':
        base = cur.split('::')[:-1] if cur else []
        segs = segs[1:]
        while segs and segs[0] == 'super': base = base[:-1]; segs = segs[1:]
    elif segs[0] == 'self': base = cur.split('::') if cur else []; segs = segs[1:]
    else: return None
    best = None
    for i in range(len(segs), -1, -1):
        cand = '::'.join(base + segs[:i])
        if cand in mods: best = cand; break
    return best
edges = {m: set() for m in mods}
pat = re.compile(r'\b((?:crate|super|self)(?:::[A-Za-z_][A-Za-z0-9_]*)+)')
for m, p in mods.items():
    text = open(p).read()
    text = '\n'.join(l.split('//')[0] for l in text.splitlines())
    text = re.split(r'#\[cfg\(test\)\]\s*mod tests', text)[0]
    for g in pat.findall(text):
        t = resolve(m, g)
        if t is not None and t != m and not t.startswith(m + '::') and not m.startswith(t + '::' ) :
            edges[m].add(t)
        elif t is not None and t != m and m.startswith(t + '::') and t != '':
            # child importing an ancestor module file (not just its children)
            edges[m].add(t)
# strongly connected components (Tarjan)
idx = {}; low = {}; st = []; on = set(); out = []; c = [0]
sys.setrecursionlimit(10000)
def sc(v):
    idx[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
    for w in edges[v]:
        if w not in idx: sc(w); low[v] = min(low[v], low[w])
        elif w in on: low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        comp = []
        while True:
            w = st.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: out.append(sorted(comp))
for v in mods:
    if v not in idx: sc(v)
for comp in out: print(len(comp), ' '.join(x or '<root>' for x in comp))
print(f"{len(out)} cycles among {len(mods)} modules")
