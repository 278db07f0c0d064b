/* swift_tsan_hook.c: lets the Swift runtime tell TSan about its own synchronization
 * in a process that loads it late, as Python does with ctypes. `make sanitize`
 * preloads it, after the TSan runtime, into the pytest run under TSan.
 *
 * The TSan runtime calls `__tsan_on_initialize` once, when it starts. libswiftCore
 * defines that function to switch on its TSan annotations: on Linux, swift_once (the
 * lazy initialization of every global and static) and the runtime's locks are built on
 * futexes that TSan cannot see, and the annotations tell TSan about them. In a Swift or
 * C program the runtime is loaded before TSan starts, so the call finds it. Python
 * dlopens libpromptsel, and the runtime with it, long after: the call found nothing,
 * the annotations stay off, and two threads that reach a lazily initialized global for
 * the first time at once (Arg.maxCount, the Ziggurat tables) are reported as a race
 * between its initializer and its first reader, a report of the tools, not of the code.
 *
 * This library wraps dlopen: the first time a dlopen leaves libswiftCore loaded, it
 * makes the call TSan would have made at startup. Nothing else changes.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

void *dlopen(const char *file, int mode) {
    static void *(*real_dlopen)(const char *, int);
    static int done;
    void *handle, *core;
    void (*on_initialize)(void);

    if (!real_dlopen) real_dlopen = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
    handle = real_dlopen(file, mode);
    if (handle && !__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
        core = real_dlopen("libswiftCore.so", RTLD_LAZY | RTLD_NOLOAD);
        if (core) {
            if (!__atomic_exchange_n(&done, 1, __ATOMIC_ACQ_REL)) {
                on_initialize = (void (*)(void))dlsym(core, "__tsan_on_initialize");
                if (on_initialize) on_initialize();
            }
            dlclose(core);
        }
    }
    return handle;
}
