#!/usr/bin/python3
"""Writes the wire-derived part of the seed corpus from tests/testdata/wire/*.json.

  tests/fuzz/extract_wire_seeds.py     (from anywhere; rewrites only wire_* files)

corpus/envelope_fuzzer/wire_<case>  every captured AMQP body (requests and replies)
corpus/reply_fuzzer/wire_<case>     every captured body, and wire_<case>.failure: the failure
                                    JSON that an error reply carries as a string
corpus/json_text_fuzzer/wire_<case> every body, and wire_<case>.inner: the inner message
Hand-written seeds (other names) are left alone.
"""
import glob
import json
import os

HERE = os.path.dirname(os.path.abspath(__file__))
WIRE = os.path.join(HERE, '..', 'testdata', 'wire')


def write(target, name, text):
    directory = os.path.join(HERE, 'corpus', target)
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), 'wb') as f:
        f.write(text.encode('utf-8'))


def main():
    for path in sorted(glob.glob(os.path.join(WIRE, '*.json'))):
        case = os.path.splitext(os.path.basename(path))[0]
        with open(path, encoding='utf-8') as f:
            vector = json.load(f)
        if 'body' not in vector:
            continue
        body = vector['body']
        name = 'wire_' + case
        write('envelope_fuzzer', name, body)
        write('reply_fuzzer', name, body)
        write('json_text_fuzzer', name, body)
        outer = json.loads(body)
        inner = outer.get('oslo.message') if isinstance(outer, dict) else None
        if isinstance(inner, str):
            write('json_text_fuzzer', name + '.inner', inner)
            message = json.loads(inner)
        else:
            message = outer
        failure = message.get('failure') if isinstance(message, dict) else None
        if isinstance(failure, str) and failure:
            write('reply_fuzzer', name + '.failure', failure)


if __name__ == '__main__':
    main()
