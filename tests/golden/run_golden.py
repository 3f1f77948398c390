#!/usr/bin/env python3
"""Golden tests of kmrc: every tests/golden/**/*.kmr holds its input and its expectations.

usage: run_golden.py KMRC [--update] [FILTER ...]
Run from the project root. FILTERs (substrings of test names) select tests; --update
rewrites the .fmt/.ast files of tests/golden/fmt/ from kmrc's current output (review the
diff before committing it).

Diagnostics. A test file says what `kmrc check FILE` must report with lines anywhere in it:
    // expect: E031 4:33 undefined name 'sparsity'
    // expect: E021 ../modules/cycle_b.kmr:2:8 import cycle
    // expect: ok
that is: the code, the position (line:col in the test file, or FILE:line:col in another
file, FILE relative to the test's folder; 0:0 for a diagnostic without a position), and a
substring of the message (optional). The test passes when the multiset of (code, file,
line, col) that kmrc reports equals the expected one, every message substring is found
in the diagnostic it belongs to, and the exit status is 1 when an error is expected and 0
otherwise. A file without expect lines (or with `// expect: ok`) must check cleanly: exit
0 and no diagnostic at all.

Output goldens. For tests/golden/fmt/NAME.kmr, NAME.kmr.fmt is the expected `kmrc fmt`
output and NAME.kmr.ast the expected `kmrc emit ast --no-spans` output. The runner also
checks that formatting is idempotent and that the formatted text has the same AST as the
original.

Generated inputs. Inputs that must not be committed (invalid UTF-8, NUL bytes, files over
the size limit, nesting and operator-count limits) are built from the GENERATED table
below into a temporary folder and checked the same way; they are named gen/NAME.

Coverage. A full run (no FILTER) ends with one more test, coverage/codes.def: every code
of compiler/diag/codes.def must be expected by at least one test that passed.

Prints one line per test and finally `N passed, N failed`; exits 1 on any failure.
"""
import os
import re
import subprocess
import sys
import tempfile

GOLDEN_DIR = os.path.join('tests', 'golden')
CODES_DEF = os.path.join('compiler', 'diag', 'codes.def')
FMT_DIR = os.path.join(GOLDEN_DIR, 'fmt')
TIMEOUT_S = 60

EXPECT_RE = re.compile(r'//\s*expect:\s*(.*?)\s*$')
EXPECT_DIAG_RE = re.compile(r'^(?P<code>[EW]\d{3})\s+(?:(?P<file>[^\s]+):)?(?P<line>\d+):(?P<col>\d+)(?:\s+(?P<msg>.*))?$')
# `path:line:col: error[E031]: message`, or `path: error[E003]: message` without a position.
# Diagnostics start at column 0; the quoted source lines under them are indented.
DIAG_RE = re.compile(r'^(?P<path>[^\s].*?)(?::(?P<line>\d+):(?P<col>\d+))?: '
                     r'(?P<severity>error|warning)\[(?P<code>[EW]\d{3})\]: (?P<msg>.*)$')
SUMMARY_RE = re.compile(r'^(\d+) errors?, (\d+) warnings?$')


# ---------------------------------------------------------------------------------------
# Generated inputs: (name, builder, expectations). A builder returns the bytes of the file
# (None for a file that must not exist), or a dict {file name: bytes} of other files to
# create beside it whose entry None is the test file; an expectation is (code, line, col,
# substring).

def nested_parens(depth):
    # The default is the only bracketed part of the declaration: its parentheses are the
    # whole nesting depth.
    return ('knob k : int in {0, 1} = ' + '(' * depth + '1' + ')' * depth + ';\npolicy p { set k = 0; }\n').encode()


def nested_blocks(depth):
    text = 'knob k : bool;\npolicy p {\n' + 'if k {\n' * depth + 'accept;\n' + '}\n' * depth + '}\n'
    return text.encode()


def operator_chain(count, op='+'):
    return ('policy p { let x = 1' + (' ' + op + ' 1') * count + '; }\n').encode()


def else_if_chain(links):
    text = 'knob k : bool;\npolicy p {\n  if k { accept; }' + ' else if k { accept; }' * links + '\n}\n'
    return text.encode()


def too_large(size):
    line = b'// padding to make the file larger than the limit of kmrc\n'
    head = b'knob k : bool;\n'
    body = line * ((size - len(head)) // len(line) + 1)
    return head + body[: size - len(head)]


KNOB = b'knob k : bool;\npolicy p { set k = true; }\n'
MIB = 1 << 20

GENERATED = [
    # E001: every kind of ill-formed UTF-8, each at its line:col (columns count code points).
    ('E001_invalid_utf8_stray_byte', lambda: b'// caf\xe9\n' + KNOB,
     [('E001', 1, 7, 'byte 0xE9')]),
    ('E001_invalid_utf8_continuation_byte', lambda: KNOB + b'// \x80\n',
     [('E001', 3, 4, 'byte 0x80')]),
    ('E001_invalid_utf8_overlong', lambda: b'// \xc0\xaf and \xe0\x80\xaf\n' + KNOB,
     [('E001', 1, 4, '0xC0'), ('E001', 1, 5, '0xAF'), ('E001', 1, 11, '0xE0'), ('E001', 1, 12, '0x80'),
      ('E001', 1, 13, '0xAF')]),
    ('E001_invalid_utf8_surrogate', lambda: b'// \xed\xa0\x80\n' + KNOB,
     [('E001', 1, 4, '0xED'), ('E001', 1, 5, '0xA0'), ('E001', 1, 6, '0x80')]),
    ('E001_invalid_utf8_above_max', lambda: b'// \xf4\x90\x80\x80\n' + KNOB,
     [('E001', 1, 4, '0xF4'), ('E001', 1, 5, '0x90'), ('E001', 1, 6, '0x80'), ('E001', 1, 7, '0x80')]),
    ('E001_invalid_utf8_truncated_at_end', lambda: KNOB + b'// \xe2\x82',
     [('E001', 3, 4, '0xE2'), ('E001', 3, 5, '0x82')]),
    ('E001_invalid_utf8_after_multibyte', lambda: b'// \xc3\xa9\xe2\x82\xac \xff\n' + KNOB,
     [('E001', 1, 7, '0xFF')]),
    ('E001_invalid_utf8_at_most_five', lambda: b'// \xff\xff\xff\xff\xff\xff\xff\n' + KNOB,
     [('E001', 1, c, '0xFF') for c in range(4, 9)]),
    # E002: NUL bytes anywhere, including inside strings.
    ('E002_nul_byte_in_comment', lambda: b'// a\x00b\n' + KNOB, [('E002', 1, 5, 'NUL byte')]),
    ('E002_nul_byte_in_string', lambda: b'report to "out/\x00.json";\n', [('E002', 1, 16, 'NUL byte')]),
    ('E002_nul_and_invalid_utf8', lambda: KNOB + b'\x00 \xfe\n',
     [('E002', 3, 1, 'NUL byte'), ('E001', 3, 3, '0xFE')]),
    # E003: refused before reading; the diagnostic has no position.
    ('E003_file_too_large', lambda: too_large(16 * MIB + 1),
     [('E003', 0, 0, 'source file is 16777217 bytes; the limit is 16777216 bytes')]),
    ('E003_import_too_large', lambda: {None: b'import "big";\n', 'big.kmr': too_large(16 * MIB + 1)},
     [('E003', 1, 8, 'source file is 16777217 bytes; the limit is 16777216 bytes')]),
    # E008: bracket nesting is bounded before parsing (128 levels).
    ('ok_nesting_128', lambda: nested_parens(128), []),
    ('E008_nesting_129', lambda: nested_parens(129), [('E008', 1, 154, 'brackets nested deeper than 128 levels')]),
    ('E008_nesting_10000', lambda: nested_parens(10000), [('E008', 1, 154, 'nested deeper than 128')]),
    # The policy's braces are level 1: the 128th `if` block is level 129.
    ('ok_nested_blocks_128', lambda: nested_blocks(127), []),
    ('E008_nested_blocks', lambda: nested_blocks(200), [('E008', 130, 6, 'nested deeper than 128')]),
    ('E008_nested_lists', lambda: ('knob k : bool;\npolicy p { let x = ' + '[' * 5000 + ']' * 5000 +
                                   '; set k = true; }\n').encode(), [('E008', 2, 147, 'nested deeper')]),
    # `else if` chains deepen the parse like brackets do: at most 1000 links.
    ('ok_else_if_chain_1000', lambda: else_if_chain(1000), []),
    ('E008_else_if_chain_1001', lambda: else_if_chain(1001),
     [('E008', 3, 22025, '`else if` chains nested deeper than 1000 levels')]),
    # E013: at most 1000 operators in one statement.
    ('ok_operators_1000', lambda: operator_chain(1000), []),
    ('ok_operators_1000_right_assoc', lambda: operator_chain(1000, '^'), []),
    ('E013_operators_1001', lambda: operator_chain(1001), [('E013', 1, 4022, 'more than 1000 operators')]),
    ('E013_operators_100000', lambda: operator_chain(100000), [('E013', 1, 4022, 'more than 1000 operators')]),
    # Postfix chains deepen the tree too: each `[`, `(` and `.` counts as an operator.
    ('E013_index_chain', lambda: ('knob k : bool;\npolicy p { let x = k' + '[0]' * 50000 + '; set k = true; }\n').encode(),
     [('E013', 2, 3021, 'more than 1000 operators')]),
    # E011: a file that cannot be read (here: one that does not exist).
    ('E011_missing_file', lambda: None, [('E011', 0, 0, 'No such file or directory')]),
]


# ---------------------------------------------------------------------------------------

class Failure(Exception):
    pass


def run_kmrc(kmrc, args):
    try:
        p = subprocess.run([kmrc] + args, capture_output=True, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        raise Failure(f'kmrc {" ".join(args)} timed out after {TIMEOUT_S} s')
    if p.returncode < 0 or p.returncode >= 128:
        raise Failure(f'kmrc {" ".join(args)} crashed (exit {p.returncode}): '
                      + p.stderr.decode('utf-8', 'replace').strip()[-500:])
    return p.returncode, p.stdout.decode('utf-8', 'replace'), p.stderr.decode('utf-8', 'replace')


def norm(path):
    return os.path.normpath(path)


def parse_expectations(path, text):
    """The expected diagnostics of a test file: [(code, file, line, col, substring)]."""
    expected, saw_ok = [], False
    for number, line in enumerate(text.splitlines(), 1):
        m = EXPECT_RE.search(line)
        if not m:
            continue
        body = m.group(1)
        if body == 'ok':
            saw_ok = True
            continue
        d = EXPECT_DIAG_RE.match(body)
        if not d:
            raise Failure(f'line {number}: malformed expect line: {line.strip()}')
        file = norm(os.path.join(os.path.dirname(path), d.group('file'))) if d.group('file') else norm(path)
        expected.append((d.group('code'), file, int(d.group('line')), int(d.group('col')), d.group('msg') or ''))
    if saw_ok and expected:
        raise Failure('`// expect: ok` together with expected diagnostics')
    return expected


def parse_diagnostics(stderr):
    found, errors, warnings, summary = [], 0, 0, None
    for line in stderr.splitlines():
        m = DIAG_RE.match(line)
        if m:
            found.append((m.group('code'), norm(m.group('path')), int(m.group('line') or 0),
                          int(m.group('col') or 0), m.group('msg')))
            if m.group('severity') == 'error':
                errors += 1
            else:
                warnings += 1
        s = SUMMARY_RE.match(line)
        if s:
            summary = (int(s.group(1)), int(s.group(2)))
    if found and summary != (errors, warnings):
        raise Failure(f'summary line {summary} does not match the {errors} errors and {warnings} warnings printed')
    return found


def match_messages(expected, found):
    """Pairs each expected diagnostic with a distinct found one of the same key whose message
    contains the expected substring (bipartite matching). Returns the unmatched expectations."""
    owner = {}

    def assign(i, seen):
        for j, f in enumerate(found):
            if j in seen or f[:4] != expected[i][:4] or expected[i][4] not in f[4]:
                continue
            seen.add(j)
            if j not in owner or assign(owner[j], seen):
                owner[j] = i
                return True
        return False

    return [e for i, e in enumerate(expected) if not assign(i, set())]


def describe(d, test_path):
    where = f'{d[2]}:{d[3]}' if d[1] == norm(test_path) else f'{d[1]}:{d[2]}:{d[3]}'
    return f'{d[0]} {where} {d[4]}'.rstrip()


def check_diagnostics(kmrc, path, expected, display_path=None):
    rc, _, stderr = run_kmrc(kmrc, ['check', path])
    found = parse_diagnostics(stderr)
    problems = []
    want = sorted(e[:4] for e in expected)
    got = sorted(f[:4] for f in found)
    if want != got:
        missing = list(want)
        extra = []
        for g in got:
            if g in missing:
                missing.remove(g)
            else:
                extra.append(g)
        for m in missing:
            problems.append('missing ' + describe(m + ('',), path))
        for e in extra:
            f = next(f for f in found if f[:4] == e)
            problems.append('unexpected ' + describe(f, path))
    else:
        for e in match_messages(expected, found):
            problems.append(f'message of {describe(e[:4] + ("",), path)} does not contain "{e[4]}"')
    want_rc = 1 if any(e[0].startswith('E') for e in expected) else 0
    if rc != want_rc:
        problems.append(f'exit status {rc}, expected {want_rc}')
    if problems:
        raise Failure('; '.join(problems))


def check_outputs(kmrc, path, update, tmp):
    """fmt/ goldens: fmt output, idempotence, AST preserved, emit ast output."""
    fmt_path, ast_path = path + '.fmt', path + '.ast'
    rc, formatted, stderr = run_kmrc(kmrc, ['fmt', path])
    if rc != 0:
        raise Failure(f'kmrc fmt failed (exit {rc}): {stderr.strip()}')
    rc, ast, stderr = run_kmrc(kmrc, ['emit', 'ast', '--no-spans', path])
    if rc != 0:
        raise Failure(f'kmrc emit ast failed (exit {rc}): {stderr.strip()}')
    problems = []
    if update:
        for out_path, text in ((fmt_path, formatted), (ast_path, ast)):
            with open(out_path, 'w', encoding='utf-8', newline='') as f:
                f.write(text)
    for golden, text, what in ((fmt_path, formatted, 'fmt'), (ast_path, ast, 'emit ast')):
        if not os.path.exists(golden):
            problems.append(f'{os.path.basename(golden)} is missing (run with --update and review it)')
            continue
        with open(golden, encoding='utf-8', newline='') as f:
            if f.read() != text:
                problems.append(f'{what} output differs from {os.path.basename(golden)}')
    again_path = os.path.join(tmp, 'formatted_' + os.path.basename(path))
    with open(again_path, 'w', encoding='utf-8', newline='') as f:
        f.write(formatted)
    rc, again, stderr = run_kmrc(kmrc, ['fmt', again_path])
    if rc != 0:
        problems.append(f'the formatted text does not parse: {stderr.strip()}')
    else:
        if again != formatted:
            problems.append('fmt is not idempotent')
        rc, again_ast, stderr = run_kmrc(kmrc, ['emit', 'ast', '--no-spans', again_path])
        if rc != 0 or again_ast != ast:
            problems.append('the formatted text has a different AST')
    if problems:
        raise Failure('; '.join(problems))


def main(argv):
    args = [a for a in argv[1:] if not a.startswith('--')]
    flags = [a for a in argv[1:] if a.startswith('--')]
    if not args or any(f != '--update' for f in flags):
        print(__doc__)
        return 2
    kmrc, filters = os.path.abspath(args[0]), args[1:]
    update = '--update' in flags
    if not os.path.isdir(GOLDEN_DIR):
        print(f'{GOLDEN_DIR} not found: run from the project root')
        return 2

    tests = []
    for root, dirs, files in os.walk(GOLDEN_DIR):
        dirs.sort()
        for name in sorted(files):
            if name.endswith('.kmr'):
                tests.append(norm(os.path.join(root, name)))
    tests.sort()

    def selected(name):
        return not filters or any(f in name for f in filters)

    passed = failed = 0
    covered = set()  # codes expected by tests that passed

    def report(name, error):
        nonlocal passed, failed
        if error is None:
            print(f'ok    {name}')
            passed += 1
        else:
            print(f'FAIL  {name}  {error}')
            failed += 1

    with tempfile.TemporaryDirectory(prefix='kmr-golden-') as tmp:
        for path in tests:
            name = os.path.relpath(path, GOLDEN_DIR)
            if not selected(name):
                continue
            try:
                with open(path, encoding='utf-8', errors='replace') as f:
                    text = f.read()
                expected = parse_expectations(path, text)
                check_diagnostics(kmrc, path, expected)
                if norm(os.path.dirname(path)) == norm(FMT_DIR):
                    check_outputs(kmrc, path, update, tmp)
                covered.update(e[0] for e in expected)
                report(name, None)
            except Failure as e:
                report(name, str(e))

        for gen_name, build, expectations in GENERATED:
            name = 'gen/' + gen_name
            if not selected(name):
                continue
            path = os.path.join(tmp, gen_name + '.kmr')
            content = build()
            files = content if isinstance(content, dict) else {None: content}
            written = []
            for file_name, data in files.items():
                if data is None:
                    continue
                file_path = path if file_name is None else os.path.join(tmp, file_name)
                with open(file_path, 'wb') as f:
                    f.write(data)
                written.append(file_path)
            try:
                check_diagnostics(kmrc, path, [(c, norm(path), l, col, m) for c, l, col, m in expectations])
                covered.update(e[0] for e in expectations)
                report(name, None)
            except Failure as e:
                report(name, str(e))
            finally:
                for file_path in written:
                    os.remove(file_path)

    if not filters:
        with open(CODES_DEF, encoding='utf-8') as f:
            codes = re.findall(r'^X\((\w+),', f.read(), re.M)
        missing = [c for c in codes if c not in covered]
        report('coverage/codes.def', None if codes and not missing else
               'no passing test expects ' + (', '.join(missing) if codes else 'anything: no codes found'))

    print(f'{passed} passed, {failed} failed')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
