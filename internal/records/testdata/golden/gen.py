"""Regenerates the golden batches in this directory with kafka-python, an
independent, pure-Python implementation of the v2 record batch (its record
encoder, its CRC-32C, and the python-snappy / lz4 / zstandard bindings of the
C libraries).

    python3 -m venv /tmp/kp && /tmp/kp/bin/pip install kafka-python==3.0.12 \
        python-snappy lz4 zstandard crc32c
    /tmp/kp/bin/python gen.py

The tests rebuild the expected records with the same formulas
(golden_test.go: goldenRecord); keep the two in step. Not run by go test.
"""
import struct

import snappy
from kafka.record.default_records import (DefaultRecordBatchBuilder,
                                          DefaultRecordBase)
from kafka.record.util import calc_crc32c

BASE_TS = 1700000000000


def golden_record(i, gaps):
    """Record i of a golden batch: (offset delta, timestamp, key, value, headers)."""
    offset = i * 3 if gaps else i
    ts = BASE_TS + 10 * i if i != 2 else BASE_TS - 5  # one goes backwards
    key = None if i % 4 == 0 else (b"" if i % 4 == 1 else b"key-%d" % i)
    if i % 5 == 0:
        value = None
    elif i % 5 == 1:
        value = b""
    elif i == 7:  # large: spans several xerial and lz4 blocks
        value = b"".join(b"%05d," % (j % 997) for j in range(16000))
    else:
        value = (b"value-%d " % i) * (i + 1)
    headers = []
    if i % 2 == 1:
        headers += [("trace", b"t-%d" % i), ("null", None)]
    if i % 3 == 2:
        headers += [("", b"")]
    return offset, ts, key, value, headers


def build(codec, n, gaps=False, pid=-1, epoch=-1, seq=-1, txn=False):
    b = DefaultRecordBatchBuilder(magic=2, compression_type=codec,
                                  is_transactional=txn, producer_id=pid,
                                  producer_epoch=epoch, base_sequence=seq,
                                  batch_size=1 << 30)
    for i in range(n):
        assert b.append(*golden_record(i, gaps)) is not None
    out = bytes(b.build())
    assert out[21 + 1] & 7 == codec or codec == 0, "kafka-python fell back to no compression"
    return out


def raw_snappy(n):
    """kafka-python only writes xerial framing; librdkafka writes one raw
    snappy block. Recompress an uncompressed batch's records that way."""
    plain = bytearray(build(0, n))
    header, recs = plain[:61], bytes(plain[61:])
    body = header + snappy.compress(recs)
    struct.pack_into(">i", body, 8, len(body) - 12)
    struct.pack_into(">h", body, 21, struct.unpack_from(">h", body, 21)[0] | 2)
    struct.pack_into(">I", body, 17, calc_crc32c(bytes(body[21:])))
    return bytes(body)


vectors = {
    "none": build(0, 5),
    "gzip": build(1, 20),
    "snappy-xerial": build(2, 20),
    "snappy-raw": raw_snappy(20),
    "lz4": build(3, 20),
    "zstd": build(4, 20),
    "txn-gaps": build(0, 6, gaps=True, pid=12345, epoch=7, seq=42, txn=True),
}
for name, data in vectors.items():
    with open("kafka-python-%s.hex" % name, "w") as f:
        h = data.hex()
        f.write("\n".join(h[i:i + 64] for i in range(0, len(h), 64)) + "\n")
    print(name, len(data))
