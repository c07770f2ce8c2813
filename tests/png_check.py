#!/usr/bin/python3
"""tests/png_check.py - an independent PNG decoder for tests/test_images.c (Python standard library only).

    png_check.py FILE.png RAW W H COMP [--filters=DIGITS]

Decodes FILE.png and compares its pixels with RAW, the W x H x COMP bytes (rows packed, no padding)
the C test meant to write. It parses every chunk, checks each chunk's CRC-32 with zlib.crc32, reads
IHDR (8-bit, no interlace, the colour type of COMP), inflates the IDAT chunks' joined data with
zlib.decompress (which checks the zlib header and the Adler-32), undoes the five PNG filters and
compares. --filters=DIGITS also requires each filter type listed to occur in some row. Exit status 0
and no output when all is well; otherwise 1 and one line "png_check: FILE: what is wrong".
"""

import struct
import sys
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLOUR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}  # samples per pixel -> IHDR colour type


class Bad(Exception):
    pass


def chunks(data):
    """The (type, payload) chunks of a PNG file, CRCs checked, up to and including IEND."""
    if data[:8] != SIGNATURE:
        raise Bad("no PNG signature")
    at, out = 8, []
    while True:
        if at + 8 > len(data):
            raise Bad("file ends inside a chunk header at byte %d" % at)
        length, kind = struct.unpack(">I4s", data[at : at + 8])
        if length > 0x7FFFFFFF:
            raise Bad("chunk length %d above 2^31 - 1" % length)
        payload = data[at + 8 : at + 8 + length]
        crc_bytes = data[at + 8 + length : at + 12 + length]
        if len(payload) != length or len(crc_bytes) != 4:
            raise Bad("file ends inside chunk %r" % kind)
        (crc,) = struct.unpack(">I", crc_bytes)
        if zlib.crc32(kind + payload) & 0xFFFFFFFF != crc:
            raise Bad("bad CRC in chunk %r at byte %d" % (kind, at))
        out.append((kind, payload))
        at += 12 + length
        if kind == b"IEND":
            if at != len(data):
                raise Bad("%d bytes after IEND" % (len(data) - at))
            return out


def unfilter(stream, width, height, bpp):
    """The raw rows of an inflated stream, and the set of filter types its rows use."""
    stride = width * bpp
    if len(stream) != height * (stride + 1):
        raise Bad("inflated %d bytes, expected %d" % (len(stream), height * (stride + 1)))
    prior = bytearray(stride)
    out, used = bytearray(), set()
    for y in range(height):
        at = y * (stride + 1)
        kind, row = stream[at], bytearray(stream[at + 1 : at + 1 + stride])
        used.add(kind)
        for i in range(stride):
            a = row[i - bpp] if i >= bpp else 0
            b = prior[i]
            c = prior[i - bpp] if i >= bpp else 0
            if kind == 0:
                pred = 0
            elif kind == 1:
                pred = a
            elif kind == 2:
                pred = b
            elif kind == 3:
                pred = (a + b) // 2
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
            else:
                raise Bad("row %d has filter type %d" % (y, kind))
            row[i] = (row[i] + pred) & 255
        out += row
        prior = row
    return bytes(out), used


def check(path, raw_path, width, height, comp, filters):
    data = open(path, "rb").read()
    expected = open(raw_path, "rb").read()
    found = chunks(data)
    if found[0][0] != b"IHDR" or len(found[0][1]) != 13:
        raise Bad("the first chunk is not a 13-byte IHDR")
    w, h, depth, colour, method, filt, interlace = struct.unpack(">IIBBBBB", found[0][1])
    if (w, h) != (width, height):
        raise Bad("IHDR says %d x %d, expected %d x %d" % (w, h, width, height))
    if (depth, colour, method, filt, interlace) != (8, COLOUR_TYPE[comp], 0, 0, 0):
        raise Bad("IHDR depth/colour/method/filter/interlace %r" % ((depth, colour, method, filt, interlace),))
    kinds = [k for k, _ in found]
    idat = [i for i, k in enumerate(kinds) if k == b"IDAT"]
    if not idat or idat != list(range(idat[0], idat[0] + len(idat))):
        raise Bad("IDAT chunks missing or not consecutive: %r" % kinds)
    try:
        stream = zlib.decompress(b"".join(p for k, p in found if k == b"IDAT"))
    except zlib.error as e:
        raise Bad("zlib: %s" % e)
    pixels, used = unfilter(stream, width, height, comp)
    if len(expected) != width * height * comp:
        raise Bad("the raw file has %d bytes, expected %d" % (len(expected), width * height * comp))
    if pixels != expected:
        first = next(i for i in range(len(pixels)) if pixels[i] != expected[i])
        raise Bad("pixel byte %d is %d, expected %d" % (first, pixels[first], expected[first]))
    missing = sorted(set(filters) - used)
    if missing:
        raise Bad("filter types %r never used (used %r)" % (missing, sorted(used)))


def main(argv):
    if len(argv) not in (6, 7):
        print("usage: png_check.py FILE.png RAW W H COMP [--filters=DIGITS]")
        return 2
    filters = []
    if len(argv) == 7:
        if not argv[6].startswith("--filters="):
            print("png_check: unknown option %s" % argv[6])
            return 2
        filters = [int(d) for d in argv[6][len("--filters=") :]]
    try:
        check(argv[1], argv[2], int(argv[3]), int(argv[4]), int(argv[5]), filters)
    except (Bad, OSError) as e:
        print("png_check: %s: %s" % (argv[1], e))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
