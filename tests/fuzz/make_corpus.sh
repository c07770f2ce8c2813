#!/usr/bin/env bash
# tests/fuzz/make_corpus.sh - writes the seed corpora of the fuzz harnesses, tests/fuzz/corpus/<harness>/.
#
#   tests/fuzz/make_corpus.sh          (from anywhere; it needs bash, gzip, awk, od, head, tail, and cc
#                                       for the checkpoints gan.h writes)
#
# The seeds are small valid inputs, one file each and every one under 4 KiB, from which the fuzzers
# mutate their way into the parsers' corners. The outputs are committed beside this script, and it
# rewrites them all (each directory is emptied first), so running it again changes nothing but
# what another gzip compresses differently, or another gan.h writes differently (the checkpoints
# of checkpoint_seeds.c). Nothing random: the "random" bytes come
# from MINSTD (x = 48271 x mod 2^31 - 1) seeded by a constant, in awk, so they are the same everywhere;
# the gzip files carry a fixed name and time (touch -d) or none (gzip -n).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
corpus="$here/corpus"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# ---- bytes ----

# hex FILE "1f 8b 08 ...": the bytes written as hex pairs (spaces and newlines ignored).
hex() {
    local file="$1" digits pair out=""
    digits="$(printf '%s' "$2" | tr -d ' \n\t')"
    while [ -n "$digits" ]; do
        pair="${digits:0:2}"
        digits="${digits:2}"
        out+="\\x$pair"
    done
    printf '%b' "$out" >"$file"
}

# be32 N / le16 N / le64 N: an integer as hex pairs, big- or little-endian.
be32() { printf '%02x %02x %02x %02x' $(($1 >> 24 & 255)) $(($1 >> 16 & 255)) $(($1 >> 8 & 255)) $(($1 & 255)); }
le16() { printf '%02x %02x' $(($1 & 255)) $(($1 >> 8 & 255)); }
le64() { printf '%02x %02x %02x %02x 00 00 00 00' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }

# random SEED N: N pseudo-random bytes as hex pairs (MINSTD; its high bits, the low ones are weak).
random() {
    awk -v seed="$1" -v n="$2" 'BEGIN {
        x = seed
        for (i = 0; i < n; i++) {
            x = (x * 48271) % 2147483647
            printf "%02x", int(x / 65536) % 256
        }
    }'
}

# text SEED N: N bytes of lowercase words from a small vocabulary, so that it compresses well but
# not trivially: deflate picks dynamic Huffman codes for it.
text() {
    awk -v seed="$1" -v n="$2" 'BEGIN {
        split("the a generator discriminator loss gradient penalty batch layer tensor step of and to", w, " ")
        x = seed
        s = ""
        while (length(s) < n) {
            x = (x * 48271) % 2147483647
            s = s w[1 + int(x / 65536) % 14] (x % 7 == 0 ? ".\n" : " ")
        }
        printf "%s", substr(s, 1, n)
    }'
}

# skewed SEED N: N bytes whose values follow a geometric law (byte 'a' + k with probability 2^-(k+1)),
# in random order: Huffman codes from 1 bit to more than 10, past inflate's one-look-up table.
skewed() {
    awk -v seed="$1" -v n="$2" 'BEGIN {
        x = seed
        for (i = 0; i < n; i++) {
            x = (x * 48271) % 2147483647
            r = int(x / 64) % 32768
            for (k = 0; k < 14 && r >= 16384; k++) r = (r * 2) % 32768
            printf "%02x", 97 + k
        }
    }'
}

# crc32 FILE: gzip's CRC-32 of the file, as 8 lowercase hex digits (from the trailer of its gzip)
crc32() {
    gzip -cn <"$1" | tail -c 8 | head -c 4 | od -An -tx1 | awk '{ print $4 $3 $2 $1 }'
}

# ---- gzip ----

gz="$corpus/fuzz_gunzip"
mkdir -p "$gz"
rm -f "$gz"/*

# gzip -c FILE keeps the file's name and time in the header (FNAME); -n keeps neither.
named() { # named NAME CONTENT-FILE: a copy called NAME with a fixed time, for gzip -c
    cp "$2" "$tmp/$1"
    touch -d '2000-01-01 00:00:00 UTC' "$tmp/$1"
}

: >"$tmp/empty"
gzip -cn <"$tmp/empty" >"$gz/empty.gz"                      # no data: an empty fixed block
printf 'hello, hello, hello, gan.h\n' >"$tmp/short"
named hello.txt "$tmp/short"
gzip -c "$tmp/hello.txt" >"$gz/fixed_fname.gz"             # fixed Huffman codes, FNAME, a match
text 1 3000 >"$tmp/words"
gzip -cn -9 <"$tmp/words" >"$gz/dynamic.gz"                 # dynamic Huffman codes, long matches
hex "$tmp/random1k" "$(random 7 1024)"
gzip -cn -1 <"$tmp/random1k" >"$gz/stored.gz"               # incompressible: a stored block
hex "$tmp/random3" "$(random 11 3)"
gzip -cn -1 <"$tmp/random3" >"$gz/stored_tiny.gz"
# runs: distance 1 (a memset) and a short period (overlapping copies byte by byte)
printf 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaabcabcabcabcabcabcabcabcabcabcabc\n' >"$tmp/runs"
gzip -cn -6 <"$tmp/runs" >"$gz/runs.gz"
# long codes: more than 10 bits, decoded bit by bit (and the matches between them)
hex "$tmp/skewed" "$(skewed 5 5000)"
gzip -cn -9 <"$tmp/skewed" >"$gz/long_codes.gz"
# two members, one after another: gunzip joins them
cat "$gz/fixed_fname.gz" "$gz/stored_tiny.gz" >"$gz/two_members.gz"
# text then random data in one stream: a dynamic block and a stored one
cat "$tmp/short" "$tmp/random1k" >"$tmp/mixed"
gzip -cn -1 <"$tmp/mixed" >"$gz/mixed_blocks.gz"

# FEXTRA, FCOMMENT and FHCRC, which gzip never writes: the header by hand, its CRC-16 the low half
# of the CRC-32 of the bytes before it (gzip of those bytes has that CRC-32 in its trailer).
header="1f 8b 08 16 00 00 00 00 00 03"     # FLG = FHCRC | FEXTRA | FCOMMENT, no time, OS Unix
header+=" 06 00 41 42 02 00 58 59"         # XLEN 6: one subfield "AB" of 2 bytes
header+=" 73 65 65 64 00"                  # FCOMMENT "seed"
hex "$tmp/header" "$header"
crc16="$(gzip -cn <"$tmp/header" | tail -c 8 | head -c 2 | od -An -tx1)"
hex "$tmp/header_crc" "$header $crc16"
gzip -cn <"$tmp/short" | tail -c +11 >"$tmp/body"           # the deflate data and the trailer
cat "$tmp/header_crc" "$tmp/body" >"$gz/fextra_fcomment_fhcrc.gz"

# ---- IDX ----
# fuzz_idx's input: a flags byte (bit 0 labels follow, bit 1 NULL name), the images file's length as
# 16 bits little-endian, the images file, then the labels file.

idx="$corpus/fuzz_idx"
mkdir -p "$idx"
rm -f "$idx"/*

# images3 N H W SEED: an IDX3 of unsigned bytes; images4 N C H W SEED: an IDX4; labels N SEED: an IDX1
images3() { hex "$tmp/images" "00 00 08 03 $(be32 "$1") $(be32 "$2") $(be32 "$3") $(random "$4" $(($1 * $2 * $3)))"; }
images4() { hex "$tmp/images" "00 00 08 04 $(be32 "$1") $(be32 "$2") $(be32 "$3") $(be32 "$4") $(random "$5" $(($1 * $2 * $3 * $4)))"; }
labels() {
    local hexes="" i
    for ((i = 0; i < $1; i++)); do hexes+="$(printf ' %02x' $(((i * 7 + $2) % 10)))"; done
    hex "$tmp/labels" "00 00 08 01 $(be32 "$1")$hexes"
}

# seed FILE FLAGS IMAGES [LABELS]: the fuzz_idx input
seed() {
    local size
    size=$(wc -c <"$3")
    hex "$tmp/prefix" "$2 $(le16 "$size")"
    if [ $# -ge 4 ]; then cat "$tmp/prefix" "$3" "$4" >"$1"; else cat "$tmp/prefix" "$3" >"$1"; fi
}

images3 3 4 4 21
labels 3 1
seed "$idx/idx3.bin" 00 "$tmp/images"
seed "$idx/idx3_labels.bin" 01 "$tmp/images" "$tmp/labels"
seed "$idx/idx3_labels_null_name.bin" 03 "$tmp/images" "$tmp/labels"
gzip -cn <"$tmp/images" >"$tmp/images.gz"
gzip -cn <"$tmp/labels" >"$tmp/labels.gz"
seed "$idx/idx3_gz_labels_gz.bin" 01 "$tmp/images.gz" "$tmp/labels.gz"
seed "$idx/idx3_gz_labels.bin" 01 "$tmp/images.gz" "$tmp/labels"
seed "$idx/idx3_gz.bin" 00 "$tmp/images.gz"
images4 2 3 4 4 22
labels 2 5
seed "$idx/idx4_labels.bin" 01 "$tmp/images" "$tmp/labels"
gzip -cn <"$tmp/images" >"$tmp/images.gz"
seed "$idx/idx4_gz.bin" 00 "$tmp/images.gz"
images3 1 1 1 23
labels 1 9
seed "$idx/idx3_one_pixel_labels.bin" 01 "$tmp/images" "$tmp/labels"
images3 3 2 2 24
labels 2 3
seed "$idx/idx3_labels_too_few.bin" 01 "$tmp/images" "$tmp/labels" # refused: 2 labels for 3 images

# ---- networks ----
# fuzz_net's input is a program for its decoder (the table at the top of fuzz_net.c):
#   header  flags (bit 0 graph, 1 critic, 2-3 max_batch - 1, 4-5 init, 6 names, 7 gan_output),
#           then C, H, W (1 + byte % 3, 1 + byte % 8, 1 + byte % 8), then the layer count (% 13;
#           / 13 % 3 the GEMM kernels: 0 the best the CPU has, 1 the baseline, 2 AVX2)
#   layers  an op byte and two parameter bytes each (joins: the other node's byte, Concat two more)
#   calls   an op byte and a parameter byte each (a layer tweak one more)

net="$corpus/fuzz_net"
mkdir -p "$net"
rm -f "$net"/*

# an MLP chain, (1, 1, 1) -> Linear 16 -> LeakyReLU 0.2 -> Linear 1 -> Tanh, max_batch 2; forward,
# zero_grad, backward, step, Adam, again, infer 6 samples, infer against the forward, a twin
hex "$net/mlp_chain.bin" "04 00 00 00 04   00 0f 00  06 01 00  00 00 00  07 00 00
    00 01  04 00  02 07  05 00  08 02  00 01  02 03  05 00  06 05  0c 01  0d 00"

# a DCGAN generator chain, (2, 1, 1) -> ConvTranspose2d(2, 4, 4, 1, 0) -> BatchNorm -> ReLU ->
# ConvTranspose2d(4, 1, 4, 2, 1) -> Tanh = (1, 8, 8), max_batch 4; training and evaluation mode,
# running and batch statistics, infer against the forward both ways, a one-sample forward
# (and again with the baseline GEMM kernel: 18 = 5 layers + 13)
dcgan="02 03 03  03 00 00  05 00 00  02 00 0f  07 00 00
    00 03  02 09  05 00  06 4b  07 00  06 0a  0c 03  07 01  0c 43  00 00  03 01"
hex "$net/dcgan_generator.bin" "0c 01 00 00 05   $dcgan"
hex "$net/dcgan_generator_baseline_gemm.bin" "0c 01 00 00 12   $dcgan"

# a WGAN-GP critic graph with names, (1, 8, 8) -> Conv2d(1, 4, 3, 2, 1) -> LeakyReLU -> LayerNorm ->
# Conv2d(4, 8, 3, 2, 1) -> LeakyReLU -> Linear 1 (the critic's head), max_batch 4, GAN_BUILD_PENALTY;
# AdamW, two forward/backward pairs, each penalty kind, steps, a penalty in evaluation mode
# (and again with the AVX2 GEMM kernel, where the CPU has a better one: 31 = 5 layers + 2 x 13)
critic="01 03 0e  06 01 00  04 00 00  01 07 0e  06 01 00
    08 03  04 00  00 03  02 01  00 03  02 02  09 03  05 00  09 07  09 0b  09 0f  05 00  07 00  09 13"
hex "$net/wgan_gp_critic.bin" "4f 00 07 07 05   $critic"
hex "$net/wgan_gp_critic_avx2_gemm.bin" "4f 00 07 07 1f   $critic"

# a residual graph, (2, 4, 4): Conv2d(2, 2, 3, 1, 1) -> ReLU -> Add the input -> Concat with the
# conv -> AvgPool2x twice = (4, 1, 1); back to the Concat, Mul by the pooled (4, 1, 1) (broadcast),
# Inner with the Concat; marked as the output, max_batch 2
hex "$net/residual_graph.bin" "85 01 03 03 09   01 01 08  05 00 00  0f 00  11 01 00 00  0d 00 00  0d 00 00
    13 04  10 06  12 04
    00 01  02 00  05 00  06 05  0d 00  0c 01"

# a chain of the rest, (1, 1, 1) -> spectral Linear 16 -> Dropout 0.5 -> Reshape (1, 4, 4) ->
# Upsample2x -> spectral Conv2d(1, 2, 3, 2, 1) -> Sigmoid -> Flatten -> Scale 2, max_batch 3;
# then evaluation mode, a Scale's factor and a frozen layer changed between steps, gan_net_init
hex "$net/spectral_dropout_chain.bin" "08 00 00 00 08   00 0f 02  09 02 00  0a 00 02  0c 00 00  01 01 56
    08 00 00  0b 00 00  0e 04 00
    00 02  02 00  05 00  06 08  07 00  00 02  0c 02  0a 07 01  0a 00 06  07 01  00 02  02 00  05 00  0b 02"

# BatchNorm of one value per channel, (3, 1, 1) -> BatchNorm -> Linear 1, max_batch 1: the training
# forward and batch-statistics sampling are refused; running statistics and evaluation mode are not
hex "$net/batchnorm_refusals.bin" "00 02 00 00 02   03 00 00  00 00 00
    00 00  06 40  06 00  07 00  00 00  03 00  07 01  0c 40"

# a critic with BatchNorm, (2, 2, 2) -> BatchNorm -> Tanh -> Linear 1, max_batch 2: its penalty is
# refused in training mode and runs in evaluation mode
hex "$net/batchnorm_critic.bin" "07 01 01 01 02   03 00 00  07 00 00
    09 01  07 00  09 01  00 01  02 00  05 00"

# a conv chain with Xavier init, (3, 4, 4) -> Conv2d(3, 4, 3, 2, 1) -> BatchNorm (momentum 0.5) ->
# LeakyReLU -> Flatten -> Linear 3 without bias, max_batch 2; SGD with momentum, RMSProp with momentum
hex "$net/conv_optimizers.bin" "24 02 03 03 05   01 03 0e  03 02 00  06 00 00  0b 00 00  00 02 01
    08 01  00 01  02 00  05 00  08 05  00 01  02 00  05 00  05 00  04 00  06 05"

# ---- checkpoints (safetensors) ----
# fuzz_checkpoint's input is the file: 8 bytes of header length, little-endian, the JSON header,
# then the data the header's offsets point into.

ck="$corpus/fuzz_checkpoint"
mkdir -p "$ck"
rm -f "$ck"/*

# safetensors FILE JSON DATA-HEX: the header padded with spaces to a multiple of 8 bytes, as the
# format's writers do
safetensors() {
    local json="$2" len
    while [ $(((${#json} + 0) % 8)) -ne 0 ]; do json+=" "; done
    len=${#json}
    hex "$tmp/len" "$(le64 "$len")"
    printf '%s' "$json" >"$tmp/json"
    hex "$tmp/data" "$3"
    cat "$tmp/len" "$tmp/json" "$tmp/data" >"$1"
}

one="00 00 80 3f" # 1.0f, little-endian
safetensors "$ck/one_tensor.safetensors" \
    '{"0.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}' "$one $one $one $one"
safetensors "$ck/metadata_two_tensors.safetensors" \
    '{"__metadata__":{"format":"pt"},"0.weight":{"dtype":"F32","shape":[1,3],"data_offsets":[0,12]},"0.bias":{"dtype":"F32","shape":[1],"data_offsets":[12,16]}}' \
    "$one $one $one $one"
safetensors "$ck/scalar_and_empty.safetensors" \
    '{"step":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"none":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}}' "$one"
safetensors "$ck/empty_header.safetensors" '{}' ""
# those are refused as no gan.h checkpoint (no format, no crc32) after the JSON is read; these have
# both, with the CRC-32 of the whole file (its digits read as '0's) written in
# ganh FILE JSON DATA-HEX: JSON holds "crc32":"00000000", which becomes the file's CRC
ganh() {
    local crc
    safetensors "$tmp/ganh" "$2" "$3"
    crc="$(crc32 "$tmp/ganh")"
    safetensors "$1" "${2/\"crc32\":\"00000000\"/\"crc32\":\"$crc\"}" "$3"
}
meta='"format":"gan.h checkpoint","format_version":"1"'
# string escapes in the metadata: a surrogate pair (4 bytes of UTF-8), 2- and 3-byte characters,
# and the one-letter escapes; every dtype the format names, in order of their bytes
ganh "$ck/escapes_dtypes.safetensors" \
    '{"__metadata__":{'"$meta"',"user.note":"\ud83d\ude00 \u00e9\u20ac \"q\" \\ \/ \b\f\n\r\t","crc32":"00000000"},"a":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[1],"data_offsets":[8,12]},"c":{"dtype":"F16","shape":[2],"data_offsets":[12,16]},"d":{"dtype":"BF16","shape":[2],"data_offsets":[16,20]},"e":{"dtype":"I16","shape":[2],"data_offsets":[20,24]},"f":{"dtype":"I8","shape":[2,2],"data_offsets":[24,28]},"g":{"dtype":"U32","shape":[1],"data_offsets":[28,32]},"h":{"dtype":"U16","shape":[2],"data_offsets":[32,36]},"i":{"dtype":"U8","shape":[4],"data_offsets":[36,40]},"j":{"dtype":"BOOL","shape":[4],"data_offsets":[40,44]},"k":{"dtype":"U64","shape":[1],"data_offsets":[44,52]},"l":{"dtype":"I64","shape":[1],"data_offsets":[52,60]}}' \
    "$(random 31 60)"
# refused after the JSON: a metadata key twice; a shape whose size overflows
ganh "$ck/duplicate_meta.safetensors" '{"__metadata__":{'"$meta"',"user.a":"1","user.a":"2","crc32":"00000000"}}' ""
ganh "$ck/shape_overflow.safetensors" \
    '{"__metadata__":{'"$meta"',"crc32":"00000000"},"x":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,4]}}' "$one"
# the files gan.h writes itself parse (tests/fuzz/checkpoint_seeds.c), once it writes them
if grep -q gan_trainer_save "$here/../../gan.h"; then
    "${CC:-cc}" -std=c99 -O1 "$here/checkpoint_seeds.c" -o "$tmp/checkpoint_seeds" -lm
    "$tmp/checkpoint_seeds" "$ck"
fi

# ---- every seed is small ----
big="$(find "$corpus" -type f -size +4095c)"
if [ -n "$big" ]; then
    echo "make_corpus.sh: seeds of 4 KiB or more: $big" >&2
    exit 1
fi
for d in "$corpus"/*/; do
    printf '%s: %d seeds\n' "$(basename "$d")" "$(find "$d" -type f | wc -l)"
done
