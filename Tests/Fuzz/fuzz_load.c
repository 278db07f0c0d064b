/* fuzz_load: libFuzzer harness over checkpoint files.
 *
 * The input is written to a file in a private temporary directory and loaded with
 * promptsel_selector_load. It must give the status from_bytes gives for the same
 * bytes (a refusal: corrupt/version/unsupported with a message that names the
 * file). A loaded selector is exercised (fuzz_common.c), saved with
 * promptsel_selector_save, loaded back, and must serialize as before the save.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"

static char dir[4096], input_path[4200], saved_path[4200];

static void write_file(const char *path, const uint8_t *data, size_t size) {
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0) {
        perror(path);
        abort();
    }
}

static void cleanup(void) {
    unlink(input_path);
    unlink(saved_path);
}

static void remove_dir(void) {
    cleanup();
    rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/promptsel-fuzz-load-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        abort();
    }
    snprintf(input_path, sizeof input_path, "%s/input.ckpt", dir);
    snprintf(saved_path, sizeof saved_path, "%s/saved.ckpt", dir);
    atexit(remove_dir);
    /* Paths that are not checkpoint files: an I/O error, never a crash. */
    promptsel_selector *sel = NULL;
    if (promptsel_selector_load(&sel, dir) != PROMPTSEL_E_IO || sel) fz_fail("loading a directory is not E_IO");
    if (promptsel_selector_load(&sel, input_path) != PROMPTSEL_E_IO || sel) fz_fail("loading a missing file is not E_IO");
    return 0;
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    write_file(input_path, data, size);
    promptsel_selector *sel = NULL, *ref = NULL;
    int rc = promptsel_selector_load(&sel, input_path);
    int ref_rc = promptsel_selector_from_bytes(&ref, data, size);
    if (rc != ref_rc) fz_fail("load gave %d, from_bytes %d, for the same bytes", rc, ref_rc);
    if (rc != PROMPTSEL_OK) {
        fz_check_refusal(rc, "load");
        if (sel) fz_fail("load failed but wrote a handle");
        cleanup();
        return 0;
    }
    fz_same_state(sel, ref, "load vs from_bytes");
    promptsel_selector_free(ref);

    fz_exercise(sel, data, size);

    fz_ok(promptsel_selector_save(sel, saved_path), "save");
    promptsel_selector *back = NULL;
    int rc2 = promptsel_selector_load(&back, saved_path);
    if (rc2 != PROMPTSEL_OK && fz_reload_tolerated()) {
        promptsel_selector_free(sel);
        cleanup();
        return 0;
    }
    if (rc2 != PROMPTSEL_OK) {
        const char *e = promptsel_last_error();
        fz_fail("a file written by save is refused by load: %d %s", rc2, e ? e : "");
    }
    fz_same_state(sel, back, "save -> load");
    promptsel_selector_free(back);
    promptsel_selector_free(sel);
    cleanup();
    return 0;
}
