#!/usr/bin/python3 -B
"""cellgw::json::AppendPythonStyle against its oracle, CPython's json.dumps(json.loads(x)).

The emitter promises (common/json_text.h) to print any JSON document exactly as Python's
json.dumps(json.loads(text)) with its defaults would, and to refuse what Python refuses.
Here the real Python (/usr/bin/python3) and the real emitter (python_style_filter, one
process for all documents) get the same bytes: every file of the fuzz corpora
(tests/fuzz/corpus/*/) and the prefixes of the small ones, a few thousand generated documents
(random nesting and whitespace, unicode with raw and escaped astral characters and lone
surrogate escapes, big integers, duplicate keys spelled differently), and mutations of them
that are mostly invalid. Both must accept or refuse alike; accepted documents must print the
same bytes. A disagreement is a bug in the emitter.

The known, deliberate differences, and how they are handled:
  * Numbers are copied as written; Python re-prints them from int/float ("1.50" -> "1.5",
    "1E2" -> "100.0", "-0" -> "0", "1e400" -> "Infinity"). Documents that contain such
    numbers are compared after each number of the emitter's output is re-printed the way
    Python prints it; the generated integer documents use only integers Python prints as
    written, and are compared byte for byte, unchanged.
  * Python accepts NaN, Infinity and -Infinity; RFC 8259 and the emitter do not.
  * Nesting: the emitter refuses more than kMaxDepth (10000) levels. Python's own limit (its
    recursion limit) is raised here, and so is its limit on integer digits (4300 since 3.11),
    so that Python reads everything the emitter reads.
$CELLGW_ORACLE_SEED changes the generator's seed (fixed by default, so a failure repeats).
"""

import glob
import json
import os
import random
import re
import subprocess
import sys
import threading
import unittest

WORKSPACE = os.environ.get('TEST_WORKSPACE', 'cellgw')
MAX_DEPTH = 10000  # cellgw::json::kMaxDepth
SEED = int(os.environ.get('CELLGW_ORACLE_SEED', '20240611'))


def runfile(relative):
    for root in (os.environ.get('RUNFILES_DIR'), os.environ.get('TEST_SRCDIR')):
        if root and os.path.exists(os.path.join(root, WORKSPACE, relative)):
            return os.path.join(root, WORKSPACE, relative)
    raise FileNotFoundError('%s is not in the runfiles' % relative)


class Emitter:
    """The python_style_filter process: one document in, one verdict out."""

    def __init__(self):
        self.process = subprocess.Popen([runfile('tests/common/python_style_filter')],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def emit(self, document):
        """(True, output bytes) or (False, error message)."""
        self.process.stdin.write(b'%d\n' % len(document) + document)
        self.process.stdin.flush()
        kind, size = self.process.stdout.readline().split()
        payload = self.process.stdout.read(int(size))
        return kind == b'ok', payload

    def close(self):
        self.process.stdin.close()
        self.process.wait(timeout=30)
        return self.process.returncode


class Python:
    """What CPython's json makes of a document, with the limits the emitter does not have."""

    def __init__(self):
        self.saw_constant = False

    def _constant(self, name):
        self.saw_constant = True
        return {'NaN': float('nan'), 'Infinity': float('inf'), '-Infinity': float('-inf')}[name]

    def emit(self, document):
        """(True, output bytes) or (False, why); also sets saw_constant."""
        self.saw_constant = False
        try:
            text = document.decode('utf-8')  # strict, as the emitter reads strings
            value = json.loads(text, parse_constant=self._constant)
        except (UnicodeDecodeError, ValueError) as error:
            return False, str(error)
        return True, json.dumps(value).encode('ascii')


NUMBER_OR_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"|-?[0-9][0-9.eE+-]*')


def renumber(emitted):
    """The emitter's output with each number re-printed as Python prints it."""
    def one(match):
        token = match.group(0)
        if token.startswith(b'"'):
            return token
        return json.dumps(json.loads(token)).encode('ascii')
    return NUMBER_OR_STRING.sub(one, emitted)


def depth_of(document):
    """Deepest nesting of brackets outside strings (valid or not)."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in document:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5c:
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in b'[{':
            depth += 1
            deepest = max(deepest, depth)
        elif byte in b']}':
            depth -= 1
    return deepest


def compare(emitter, python, document, renumbered):
    """None when the two agree (or differ only as documented), else a description."""
    ours_ok, ours = emitter.emit(document)
    theirs_ok, theirs = python.emit(document)
    if ours_ok and theirs_ok:
        if (renumber(ours) if renumbered else ours) == theirs:
            return None
        return 'printed differently:\n  cellgw: %r\n  python: %r' % (ours[:400], theirs[:400])
    if not ours_ok and not theirs_ok:
        return None
    if ours_ok:
        return 'accepted by cellgw (%r), refused by Python: %s' % (ours[:200], theirs)
    if python.saw_constant:
        return None  # NaN / Infinity: Python's extension
    if b'nesting deeper than' in ours and depth_of(document) > MAX_DEPTH:
        return None
    return 'refused by cellgw (%s), accepted by Python (%r)' % (ours.decode(), theirs[:200])


class Generator:
    """Random JSON documents written as text, in spellings json.dumps never produces."""

    # Pairs of spellings of the same key, so that duplicates are found after unescaping.
    KEY_SPELLINGS = [
        ['a', '\\u0061'], ['b'], ['A', '\\u0041'], ['caf\u00e9', 'caf\\u00e9', 'caf\\u00E9'],
        ['\U0001F600', '\\ud83d\\ude00', '\\uD83D\\uDE00'], ['\\ud800'], ['\\udc00'],
        ['x/y', 'x\\/y'], ['tab\\t', 'tab\\u0009'], ['', ''], ['\u4e2d', '\\u4e2d'],
        ['k1'], ['k2'], ['k3'], ['long key %d' % 7],
    ]
    STRING_PIECES = [
        'plain', ' ', 'x', '\\"', '\\\\', '\\/', '\\b', '\\f', '\\n', '\\r', '\\t', '\x7f',
        '\u00e9', '\u00ff', '\u0080', '\u07ff', '\u0800', '\u4e2d', '\uffff', '\ufeff',
        '\U0001F600', '\U0010FFFF', '\U00010000', '\\ud83d\\ude00', '\\uDBFF\\uDFFF',
        '\\ud800', '\\udfff', '\\ud800\\u0041', '\\udc00\\ud800', '\\ud800\\ud800',
        '\\u0000', '\\u001f', '\\u007f', '\\u00E9', '\\u2028', '\\uFFFE', '<', '&', "'",
    ]
    WHITESPACE = ['', '', '', ' ', '\n', '\t', '\r\n', '  ']

    NODES_PER_DOCUMENT = 150  # containers hold only scalars once this many values exist

    def __init__(self, seed, with_floats=False):
        self.random = random.Random(seed)
        self.with_floats = with_floats
        self.budget = 0

    def ws(self):
        return self.random.choice(self.WHITESPACE)

    def string(self):
        pieces = [self.random.choice(self.STRING_PIECES)
                  for _ in range(self.random.randint(0, 6))]
        if self.random.random() < 0.2:
            pieces.append('\\u%04x' % self.random.randint(0, 0xffff))
        if self.random.random() < 0.1:
            pieces.append(chr(self.random.choice([0x1F4A9, 0x2603, 0x10437, 0xE000])))
        return '"' + ''.join(pieces) + '"'

    def key(self):
        return '"' + self.random.choice(self.random.choice(self.KEY_SPELLINGS)) + '"'

    def integer(self):
        r = self.random.random()
        if r < 0.3:
            return str(self.random.randint(-1000, 1000))
        if r < 0.5:
            return self.random.choice(['18446744073709551615', '-9223372036854775808',
                                       '1180591620717411303424', str(2 ** 200)])
        if r < 0.505:
            return str(self.random.randint(1, 9)) + '7' * 5000  # over Python's default limit
        digits = str(self.random.randint(1, 9)) + ''.join(
            self.random.choice('0123456789') for _ in range(self.random.randint(0, 40)))
        return self.random.choice(['', '-']) + digits

    def number(self):
        if not self.with_floats or self.random.random() < 0.5:
            return self.integer()
        return self.random.choice([
            '1.50', '1E2', '1e+2', '-0', '-0.0', '0.1e-5', '1e400', '-1e400', '123.456e+7',
            '2.5E-3', '0.30000000000000004', '1.0', '4e-330', '100000000000000000000.0',
            '%d.%d' % (self.random.randint(0, 99), self.random.randint(0, 999)),
            '%de%d' % (self.random.randint(1, 9), self.random.randint(-20, 20)),
        ])

    def value(self, depth):
        self.budget -= 1
        if self.budget <= 0:
            depth = 0
        r = self.random.random()
        if depth > 0 and r < 0.25:
            return self.obj(depth - 1)
        if depth > 0 and r < 0.45:
            return self.array(depth - 1)
        if r < 0.7:
            return self.string()
        if r < 0.9:
            return self.number()
        return self.random.choice(['true', 'false', 'null'])

    def obj(self, depth):
        # Sometimes over 16 members: the emitter finds duplicates by hashing from there.
        count = self.random.choice([0, 1, 2, 3, 5, 8, 17, 30])
        members = [self.ws() + self.key() + self.ws() + ':' + self.ws() + self.value(depth) +
                   self.ws() for _ in range(count)]
        return '{' + (','.join(members) if members else self.ws()) + '}'

    def array(self, depth):
        items = [self.ws() + self.value(depth) + self.ws()
                 for _ in range(self.random.randint(0, 6))]
        return '[' + (','.join(items) if items else self.ws()) + ']'

    def document(self):
        self.budget = self.NODES_PER_DOCUMENT
        r = self.random.random()
        if r < 0.02:
            return self.deep()
        if r < 0.1:
            body = self.value(0)  # a lone scalar
        else:
            body = self.obj(self.random.randint(0, 6))
        return (self.ws() + body + self.ws()).encode('utf-8', 'surrogatepass')

    def deep(self):
        levels = self.random.choice([500, 3000, MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1])
        opens, closes = [], []
        for _ in range(levels):
            if self.random.random() < 0.5:
                opens.append('[')
                closes.append(']')
            else:
                opens.append('{' + self.key() + ':')
                closes.append('}')
        return (''.join(opens) + self.value(0) + ''.join(reversed(closes))).encode()

    def mutate(self, document):
        data = bytearray(document)
        if not data:
            return b'{'
        position = self.random.randrange(len(data))
        kind = self.random.random()
        if kind < 0.3:
            del data[position:]
        elif kind < 0.6:
            del data[position]
        elif kind < 0.9:
            data.insert(position, self.random.choice(b'{}[],:"\\ 0-.eu\x01\x80\xff'))
        else:
            data[position] = self.random.randrange(256)
        return bytes(data)


class EmitterOracleTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.emitter = Emitter()
        cls.python = Python()

    @classmethod
    def tearDownClass(cls):
        if cls.emitter.close() != 0:
            raise AssertionError('python_style_filter exited non-zero')

    def check_all(self, documents, renumbered):
        problems = []
        for name, document in documents:
            problem = compare(self.emitter, self.python, document, renumbered)
            if problem:
                problems.append('%s (%d bytes, start %r): %s' % (name, len(document),
                                                                 document[:120], problem))
        self.assertEqual(problems[:10], [], '%d disagreement(s) (seed %d)' % (len(problems),
                                                                            SEED))
        return len(documents)

    def test_corpus_documents_and_their_prefixes_agree_with_python(self):
        documents = []
        for path in sorted(glob.glob(os.path.join(runfile('tests/fuzz/corpus'), '*', '*'))):
            with open(path, 'rb') as f:
                data = f.read()
            name = os.path.relpath(path, runfile('tests/fuzz/corpus'))
            documents.append((name, data))
            if len(data) <= 400:
                documents += [('%s[:%d]' % (name, n), data[:n]) for n in range(len(data))]
        self.assertGreater(len({n.split('/')[0] for n, _ in documents}), 2)
        # Corpus documents hold numbers such as 1.50 or 1E2: compared renumbered.
        count = self.check_all(documents, renumbered=True)
        print('corpus: %d documents agree' % count)

    def test_generated_integer_documents_print_byte_for_byte_as_python(self):
        generator = Generator(SEED)
        documents = [('generated #%d' % i, generator.document()) for i in range(3000)]
        accepted = sum(1 for _, d in documents if self.python.emit(d)[0])
        self.assertGreater(accepted, 2900)  # the generator writes valid JSON (deep ones aside)
        count = self.check_all(documents, renumbered=False)
        print('generated: %d integer documents agree byte for byte' % count)

    def test_generated_documents_with_floats_agree_after_renumbering(self):
        generator = Generator(SEED + 1, with_floats=True)
        documents = [('float document #%d' % i, generator.document()) for i in range(1500)]
        count = self.check_all(documents, renumbered=True)
        print('generated: %d documents with floats agree after renumbering' % count)

    def test_mutated_documents_are_refused_exactly_when_python_refuses_them(self):
        generator = Generator(SEED + 2)
        documents = []
        for i in range(3000):
            document = generator.document()
            if len(document) < 100000:
                documents.append(('mutation #%d' % i, generator.mutate(document)))
        refused = sum(1 for _, d in documents if not self.python.emit(d)[0])
        self.assertGreater(refused, len(documents) // 3)  # most mutations break the document
        # A mutation can turn an integer into a float ("2e5777..."): compared renumbered.
        count = self.check_all(documents, renumbered=True)
        print('mutations: %d documents (%d refused by Python) agree' % (count, refused))

    def test_comparison_sees_differences_and_allows_only_the_documented_ones(self):
        self.assertIsNotNone(compare(self.emitter, self.python, b'{"a": 1.50}', False))
        self.assertIsNone(compare(self.emitter, self.python, b'{"a": 1.50}', True))
        self.assertIsNone(compare(self.emitter, self.python, b'[NaN, -Infinity]', False))
        over = b'[' * (MAX_DEPTH + 1) + b']' * (MAX_DEPTH + 1)
        self.assertTrue(self.python.emit(over)[0])  # Python's limits are lifted...
        self.assertIsNone(compare(self.emitter, self.python, over, False))  # ...a known one
        at_limit = b'[' * MAX_DEPTH + b']' * MAX_DEPTH
        self.assertIsNone(compare(self.emitter, self.python, at_limit, False))


def main():
    sys.setrecursionlimit(1000000)
    sys.set_int_max_str_digits(0)
    # Python's json recurses per level; give it a stack that holds kMaxDepth levels.
    threading.stack_size(512 * 1024 * 1024)
    outcome = []
    worker = threading.Thread(target=lambda: outcome.append(
        unittest.main(exit=False, verbosity=2).result.wasSuccessful()))
    worker.start()
    worker.join()
    sys.exit(0 if outcome and outcome[0] else 1)


if __name__ == '__main__':
    main()
