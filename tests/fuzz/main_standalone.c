/* tests/fuzz/main_standalone.c - a main() for the fuzz harnesses when libFuzzer does not provide one.

   Every harness in tests/fuzz/ defines only LLVMFuzzerTestOneInput, so that libFuzzer
   (clang -fsanitize=fuzzer) can drive it. Linked with this file instead, the same harness becomes a
   plain program, for three uses:

      reproducing      build/fuzz/fuzz_gunzip.plain crash-file ...   (each argument a file, or a
                       directory whose regular files are each one input; not recursive)
      regression runs  make fuzz without libFuzzer runs the committed corpus this way, under ASan/UBSan
      AFL++            afl-clang-fast -O1 -g tests/fuzz/fuzz_gunzip.c tests/fuzz/main_standalone.c -lm
                       afl-fuzz -i tests/fuzz/corpus/fuzz_gunzip -o out -- ./a.out
                       with no argument the input comes from stdin; built by afl-clang-fast it runs in
                       AFL++'s persistent mode (many inputs per process), which is what makes AFL++ fast

   Inputs are read whole into a malloc'd block of exactly their size, so a read past the end of an
   input is AddressSanitizer's to report, as it is under libFuzzer. */
#define _POSIX_C_SOURCE 200809L /* opendir, stat: POSIX, beside -std=c99 */

#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The whole of f -> a malloc'd block (at least 1 byte allocated, *size exact); NULL on failure. */
static uint8_t *read_all(FILE *f, size_t *size)
{
    size_t cap = 4096, len = 0, got;
    uint8_t *buf = (uint8_t *)malloc(cap), *exact;
    if (!buf) return NULL;
    while ((got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len == cap) {
            uint8_t *bigger = (uint8_t *)realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                return NULL;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    /* a copy of exactly len bytes: the slack of buf would hide an overread from ASan */
    exact = (uint8_t *)malloc(len ? len : 1);
    if (exact && len) memcpy(exact, buf, len);
    free(buf);
    *size = len;
    return exact;
}

static int run_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    uint8_t *data;
    size_t size = 0;
    if (!f) {
        fprintf(stderr, "main_standalone: cannot open %s\n", path);
        return 0;
    }
    data = read_all(f, &size);
    fclose(f);
    if (!data) {
        fprintf(stderr, "main_standalone: cannot read %s\n", path);
        return 0;
    }
    LLVMFuzzerTestOneInput(data, size);
    free(data);
    return 1;
}

/* Each regular file of dir, in the order readdir gives them; returns how many ran, -1 on an error. */
static long run_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    long ran = 0;
    if (!d) {
        fprintf(stderr, "main_standalone: cannot open directory %s\n", dir);
        return -1;
    }
    while ((e = readdir(d)) != NULL) {
        char path[4096];
        struct stat st;
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
        if ((size_t)snprintf(path, sizeof path, "%s/%s", dir, e->d_name) >= sizeof path) continue;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) continue;
        if (!run_file(path)) {
            closedir(d);
            return -1;
        }
        ran++;
    }
    closedir(d);
    return ran;
}

#ifdef __AFL_FUZZ_TESTCASE_LEN
__AFL_FUZZ_INIT();
#endif

int main(int argc, char **argv)
{
    long ran = 0;
    int i;
    if (argc < 2) {
#ifdef __AFL_FUZZ_TESTCASE_LEN
        /* AFL++'s persistent mode: the test case arrives in shared memory, 10000 per fork. It is
           copied to a block of its own size so that ASan sees its true end. */
        unsigned char *buf;
#ifdef __AFL_HAVE_MANUAL_CONTROL
        __AFL_INIT(); /* the fork server starts here, after the process's own start-up */
#endif
        buf = __AFL_FUZZ_TESTCASE_BUF;
        while (__AFL_LOOP(10000)) {
            size_t len = (size_t)__AFL_FUZZ_TESTCASE_LEN;
            uint8_t *copy = (uint8_t *)malloc(len ? len : 1);
            if (!copy) return 1;
            if (len) memcpy(copy, buf, len);
            LLVMFuzzerTestOneInput(copy, len);
            free(copy);
        }
        return 0;
#else
        size_t size = 0;
        uint8_t *data = read_all(stdin, &size);
        if (!data) return 1;
        LLVMFuzzerTestOneInput(data, size);
        free(data);
        return 0;
#endif
    }
    for (i = 1; i < argc; i++) {
        struct stat st;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "main_standalone: no such file or directory: %s\n", argv[i]);
            return 1;
        }
        if (S_ISDIR(st.st_mode)) {
            long n = run_dir(argv[i]);
            if (n < 0) return 1;
            ran += n;
        } else {
            if (!run_file(argv[i])) return 1;
            ran++;
        }
    }
    printf("main_standalone: ran %ld inputs\n", ran);
    return 0;
}
