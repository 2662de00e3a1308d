// ec2lab-stress: do user programs keep what is theirs on this guest kernel and host?
//
// Several processes and threads each check, round after round, that their general
// registers, XMM registers, thread-local storage (the TLS block copied from the binary
// at start-up, and values written later), and private memory are unchanged across
// spinning (timer preemption), system calls, signals (a handler that clobbers every
// register), fork (copy-on-write in parent and child) and exec (a fresh process
// re-checks its start-up TLS and data). Some processes only spin, so that the others are
// preempted by runnable peers, as in the fault that killed the httpd lab's user data on
// the nested-KVM host `6.18.44-fc-v1098` (see guest-images/README.md).
//
// Output: one line per failure, naming the first bad value, and a last line
//   EC2LAB-STRESS: PASS <counts> in <s> s      or
//   EC2LAB-STRESS: FAIL <n> failures, first: <what>
// Exit status 0 on PASS, 1 on FAIL, 2 on bad usage or a set-up error.
//
// Static glibc (built by guest-images/build.sh); x86-64 only (the register checks are
// assembly).
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

typedef uint64_t u64;

// The register set regcheck() loads, holds across the event, and stores back:
// 11 general registers, then 16 XMM registers as 32 words.
#define NGPR 11
#define NWORDS (NGPR + 32)
static const char *const gpr_names[NGPR] = {"rbx", "rbp", "rdi", "rsi", "rdx", "r8",
                                             "r9",  "r10", "r12", "r13", "r14"};
// r15 holds the pointer to `out`, so it is checked implicitly: a wrong r15 faults or
// stores elsewhere (and the caller then sees the canary below unchanged).

enum event { EV_SPIN = 0, EV_YIELD = 1, EV_GETPID = 2 };

// void regcheck(const u64 in[NWORDS], u64 out[NWORDS], long event)
__asm__(".text\n"
        ".globl regcheck\n"
        ".type regcheck,@function\n"
        "regcheck:\n"
        "  push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
        "  mov %rsi, %r15\n"          // out
        "  mov %rdx, %rax\n"          // event
        "  movdqu 88(%rdi), %xmm0\n  movdqu 104(%rdi), %xmm1\n"
        "  movdqu 120(%rdi), %xmm2\n movdqu 136(%rdi), %xmm3\n"
        "  movdqu 152(%rdi), %xmm4\n movdqu 168(%rdi), %xmm5\n"
        "  movdqu 184(%rdi), %xmm6\n movdqu 200(%rdi), %xmm7\n"
        "  movdqu 216(%rdi), %xmm8\n movdqu 232(%rdi), %xmm9\n"
        "  movdqu 248(%rdi), %xmm10\n movdqu 264(%rdi), %xmm11\n"
        "  movdqu 280(%rdi), %xmm12\n movdqu 296(%rdi), %xmm13\n"
        "  movdqu 312(%rdi), %xmm14\n movdqu 328(%rdi), %xmm15\n"
        "  mov 0(%rdi), %rbx\n  mov 8(%rdi), %rbp\n"
        "  mov 24(%rdi), %rsi\n mov 32(%rdi), %rdx\n mov 40(%rdi), %r8\n"
        "  mov 48(%rdi), %r9\n  mov 56(%rdi), %r10\n mov 64(%rdi), %r12\n"
        "  mov 72(%rdi), %r13\n mov 80(%rdi), %r14\n"
        "  mov 16(%rdi), %rdi\n"
        "  cmp $0, %rax\n jne 2f\n"
        "  mov $1000000, %ecx\n"        // spin: the timer and peers preempt us here
        "1: dec %ecx\n jnz 1b\n jmp 3f\n"
        "2: cmp $1, %rax\n jne 4f\n"
        "  mov $24, %eax\n syscall\n jmp 3f\n"          // sched_yield
        "4: mov $39, %eax\n syscall\n"                  // getpid
        "3:\n"
        "  mov %rbx, 0(%r15)\n  mov %rbp, 8(%r15)\n  mov %rdi, 16(%r15)\n"
        "  mov %rsi, 24(%r15)\n mov %rdx, 32(%r15)\n mov %r8, 40(%r15)\n"
        "  mov %r9, 48(%r15)\n  mov %r10, 56(%r15)\n mov %r12, 64(%r15)\n"
        "  mov %r13, 72(%r15)\n mov %r14, 80(%r15)\n"
        "  movdqu %xmm0, 88(%r15)\n  movdqu %xmm1, 104(%r15)\n"
        "  movdqu %xmm2, 120(%r15)\n movdqu %xmm3, 136(%r15)\n"
        "  movdqu %xmm4, 152(%r15)\n movdqu %xmm5, 168(%r15)\n"
        "  movdqu %xmm6, 184(%r15)\n movdqu %xmm7, 200(%r15)\n"
        "  movdqu %xmm8, 216(%r15)\n movdqu %xmm9, 232(%r15)\n"
        "  movdqu %xmm10, 248(%r15)\n movdqu %xmm11, 264(%r15)\n"
        "  movdqu %xmm12, 280(%r15)\n movdqu %xmm13, 296(%r15)\n"
        "  movdqu %xmm14, 312(%r15)\n movdqu %xmm15, 328(%r15)\n"
        "  pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
        "  ret\n"
        ".globl regcheck_end\n"
        "regcheck_end:\n"
        ".size regcheck, .-regcheck\n");
void regcheck(const u64 *in, u64 *out, long event);
extern const char regcheck_end[];

// A signal handler that overwrites every register regcheck() holds, so that a context
// not restored on return from the signal shows up as a wrong value.
__asm__(".text\n"
        ".globl clobber_all\n"
        ".type clobber_all,@function\n"
        "clobber_all:\n"
        "  push %rbx\n push %rbp\n push %r12\n push %r13\n push %r14\n push %r15\n"
        "  mov $0xdeaddeaddeaddead, %rax\n"
        "  mov %rax, %rbx\n mov %rax, %rbp\n mov %rax, %rsi\n mov %rax, %rdx\n"
        "  mov %rax, %r8\n mov %rax, %r9\n mov %rax, %r10\n mov %rax, %r11\n"
        "  mov %rax, %r12\n mov %rax, %r13\n mov %rax, %r14\n mov %rax, %r15\n"
        "  movq %rax, %xmm0\n pshufd $0, %xmm0, %xmm0\n"
        "  movdqa %xmm0, %xmm1\n movdqa %xmm0, %xmm2\n movdqa %xmm0, %xmm3\n"
        "  movdqa %xmm0, %xmm4\n movdqa %xmm0, %xmm5\n movdqa %xmm0, %xmm6\n"
        "  movdqa %xmm0, %xmm7\n movdqa %xmm0, %xmm8\n movdqa %xmm0, %xmm9\n"
        "  movdqa %xmm0, %xmm10\n movdqa %xmm0, %xmm11\n movdqa %xmm0, %xmm12\n"
        "  movdqa %xmm0, %xmm13\n movdqa %xmm0, %xmm14\n movdqa %xmm0, %xmm15\n"
        "  pop %r15\n pop %r14\n pop %r13\n pop %r12\n pop %rbp\n pop %rbx\n"
        "  ret\n"
        ".size clobber_all, .-clobber_all\n");
void clobber_all(void);

// Start-up data that exec must bring into a fresh process exactly: a TLS block
// initialised from the binary (.tdata, copied by glibc at start-up, as the faults in
// busybox read it) and ordinary initialised data.
#define IMAGE_WORDS 64
#define IMAGE_WORD(i) (0x7e5700000000000ULL + 0x0101010101ULL * (u64)(i) + 1)
#define W8(b) IMAGE_WORD(b), IMAGE_WORD(b + 1), IMAGE_WORD(b + 2), IMAGE_WORD(b + 3), \
              IMAGE_WORD(b + 4), IMAGE_WORD(b + 5), IMAGE_WORD(b + 6), IMAGE_WORD(b + 7)
#define W64 W8(0), W8(8), W8(16), W8(24), W8(32), W8(40), W8(48), W8(56)
static __thread u64 tls_image[IMAGE_WORDS] = {W64};
static u64 data_image[IMAGE_WORDS] = {W64};
static __thread u64 tls_mine;

static struct {
    const char *role;  // for messages
    u64 reg_checks, tls_checks, signals, forks, execs, failures;
    char first[240];   // the first failure, for the summary
} st;

static volatile sig_atomic_t signals_seen;

// One failure: a line on stdout at once (unbuffered write), the first kept for the summary.
static void fail(const char *fmt, ...) {
    char msg[200], line[260];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    int n = snprintf(line, sizeof line, "EC2LAB-STRESS: pid %d (%s): %s\n", getpid(), st.role, msg);
    if (write(1, line, (size_t)n) < 0) { /* nothing more to do */ }
    if (!st.failures++) snprintf(st.first, sizeof st.first, "pid %d (%s): %s", getpid(), st.role, msg);
}

static u64 now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (u64)t.tv_sec * 1000000000ULL + (u64)t.tv_nsec;
}

static u64 mix(u64 x) {  // splitmix64: distinct, non-zero-looking patterns per round
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static const char *event_name(long ev) {
    return ev == EV_SPIN ? "spinning" : ev == EV_YIELD ? "sched_yield" : "getpid";
}

// Registers across one event; returns 0 when all were kept.
static int check_registers(u64 seed, long ev) {
    u64 in[NWORDS], out[NWORDS];
    for (int i = 0; i < NWORDS; i++) in[i] = mix(seed * NWORDS + (u64)i);
    memset(out, 0, sizeof out);
    regcheck(in, out, ev);
    st.reg_checks++;
    for (int i = 0; i < NWORDS; i++) {
        if (in[i] == out[i]) continue;
        char name[8];
        if (i < NGPR) snprintf(name, sizeof name, "%s", gpr_names[i]);
        else snprintf(name, sizeof name, "xmm%d%s", (i - NGPR) / 2, (i - NGPR) % 2 ? "h" : "l");
        fail("register %s after %s: got 0x%016llx, want 0x%016llx", name, event_name(ev),
             (unsigned long long)out[i], (unsigned long long)in[i]);
        return 1;
    }
    return 0;
}

// The start-up images and this thread's own TLS words.
static int check_tls(u64 want_mine, const char *when) {
    st.tls_checks++;
    for (int i = 0; i < IMAGE_WORDS; i++) {
        if (tls_image[i] != IMAGE_WORD(i)) {
            fail("TLS start-up word %d %s: got 0x%016llx, want 0x%016llx", i, when,
                 (unsigned long long)tls_image[i], (unsigned long long)IMAGE_WORD(i));
            return 1;
        }
        if (data_image[i] != IMAGE_WORD(i)) {
            fail("initialised data word %d %s: got 0x%016llx, want 0x%016llx", i, when,
                 (unsigned long long)data_image[i], (unsigned long long)IMAGE_WORD(i));
            return 1;
        }
    }
    if (tls_mine != want_mine) {
        fail("thread's own TLS word %s: got 0x%016llx, want 0x%016llx", when,
             (unsigned long long)tls_mine, (unsigned long long)want_mine);
        return 1;
    }
    u64 self;
    __asm__ volatile("mov %%fs:0, %0" : "=r"(self));
    if (self != (u64)pthread_self()) {
        fail("%%fs:0 (the thread pointer) %s: got 0x%016llx, want 0x%016llx", when,
             (unsigned long long)self, (unsigned long long)pthread_self());
        return 1;
    }
    return 0;
}

// --selftest-corrupt: the handler changes the interrupted r13 as a kernel that failed to
// restore it would, so the checker can be shown to catch it.
static int selftest_corrupt;

static void on_signal(int sig, siginfo_t *si, void *ucv) {
    (void)sig;
    (void)si;
    clobber_all();
    greg_t *g = ((ucontext_t *)ucv)->uc_mcontext.gregs;
    if (selftest_corrupt && (u64)g[REG_RIP] >= (u64)regcheck && (u64)g[REG_RIP] < (u64)regcheck_end)
        g[REG_R13] ^= 0x10;
    signals_seen++;
}

static void add_signal_timer(int usec) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_RESTART | SA_SIGINFO;
    sigaction(SIGALRM, &sa, NULL);
    struct itimerval it = {{0, usec}, {0, usec}};
    setitimer(ITIMER_REAL, &it, NULL);
}

// AVX: programs use it when CPUID says the OS saves its state (OSXSAVE) and XCR0 has the
// YMM bit. A kernel booted with `noxsave` context-switches only the legacy (FXSAVE) state,
// so if CPUID in user mode still says OSXSAVE (a host that runs user mode natively without
// intercepting CPUID) the upper halves of YMM registers leak between processes and glibc's
// AVX string functions corrupt data under preemption. Checked only when CPUID claims it.
static int avx_claimed(void) {
    unsigned a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    if (!((c >> 27) & 1) || !((c >> 28) & 1)) return 0;  // no OSXSAVE or no AVX
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (lo & 6) == 6;  // SSE and YMM state enabled
}

// The upper halves of ymm3 and ymm9 across spinning and a system call.
static int check_ymm(u64 seed) {
    u64 in[8] __attribute__((aligned(32))), out[8] __attribute__((aligned(32)));
    for (int i = 0; i < 8; i++) in[i] = mix(seed * 8 + (u64)i);
    __asm__ volatile("vmovdqu 0(%0), %%ymm3\n vmovdqu 32(%0), %%ymm9\n"
                     "mov $1000000, %%ecx\n 1: dec %%ecx\n jnz 1b\n"
                     "mov $24, %%eax\n syscall\n"
                     "vmovdqu %%ymm3, 0(%1)\n vmovdqu %%ymm9, 32(%1)\n vzeroupper\n"
                     : : "r"(in), "r"(out) : "rax", "rcx", "r11", "memory", "xmm3", "xmm9");
    for (int i = 0; i < 8; i++)
        if (in[i] != out[i]) {
            fail("register ymm%d word %d (CPUID says the OS saves AVX state): got 0x%016llx, "
                 "want 0x%016llx", i < 4 ? 3 : 9, i % 4, (unsigned long long)out[i],
                 (unsigned long long)in[i]);
            return 1;
        }
    return 0;
}

struct thread_arg { u64 id; u64 deadline; u64 failures; };

// Registers and TLS, round after round, until the deadline.
static int avx;

static void *register_worker(void *p) {
    struct thread_arg *a = p;
    u64 seed = mix(a->id * 1000003ULL + (u64)getpid());
    tls_mine = seed;
    if (check_tls(seed, "at thread start")) { a->failures++; return NULL; }
    for (u64 r = 0; now_ns() < a->deadline && !a->failures; r++) {
        a->failures += (u64)check_registers(seed + r, (long)(r % 3));
        if (!a->failures && avx && r % 4 == 3) a->failures += (u64)check_ymm(seed + r);
        if (!a->failures) a->failures += (u64)check_tls(seed, "after a round");
    }
    return NULL;
}

// A process of `threads` register workers, with a signal timer clobbering registers.
static int run_register_process(int threads, u64 deadline) {
    st.role = "registers+signals";
    add_signal_timer(3000);
    pthread_t t[8];
    struct thread_arg args[8];
    if (threads > 8) threads = 8;
    for (int i = 0; i < threads; i++) {
        args[i] = (struct thread_arg){(u64)i + 1, deadline, 0};
        if (i && pthread_create(&t[i], NULL, register_worker, &args[i])) {
            fail("pthread_create: %s", strerror(errno));
            return 1;
        }
    }
    register_worker(&args[0]);
    for (int i = 1; i < threads; i++) pthread_join(t[i], NULL);
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    st.signals = (u64)signals_seen;
    return st.failures ? 1 : 0;
}

static int wait_child(pid_t pid, const char *what) {
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) { fail("waitpid for %s: %s", what, strerror(errno)); return 1; }
    if (WIFSIGNALED(status)) {
        fail("%s killed by signal %d (%s)", what, WTERMSIG(status), strsignal(WTERMSIG(status)));
        return 1;
    }
    if (WEXITSTATUS(status)) {
        // The child printed its own failure line; count it here too.
        fail("%s exited with status %d", what, WEXITSTATUS(status));
        return 1;
    }
    return 0;
}

// fork: both sides write their own pattern into a shared-until-written buffer and must
// each see only their own; exec: a fresh copy of this program checks its start-up state.
static int run_fork_exec_process(const char *self, u64 deadline) {
    st.role = "fork+exec";
    enum { WORDS = 16 * 512 };  // 16 pages
    u64 *buf = mmap(NULL, WORDS * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) { fail("mmap: %s", strerror(errno)); return 1; }
    tls_mine = 42;
    for (u64 r = 0; now_ns() < deadline && !st.failures; r++) {
        for (int i = 0; i < WORDS; i++) buf[i] = mix(r * WORDS + (u64)i);
        if (r % 4) {  // mostly exec: a freshly exec'd program is where faults were seen
            char arg[32];
            snprintf(arg, sizeof arg, "%llu", (unsigned long long)r);
            pid_t pid = fork();
            if (pid == 0) {
                execl(self, self, "--exec-child", arg, (char *)NULL);
                _exit(127);
            }
            if (pid < 0) { fail("fork: %s", strerror(errno)); break; }
            st.execs++;
            wait_child(pid, "exec'd child");
            continue;
        }
        pid_t pid = fork();
        if (pid == 0) {
            st.role = "forked child";
            st.failures = 0;
            for (int i = 0; i < WORDS; i += 2) {
                if (buf[i] != mix(r * WORDS + (u64)i)) {
                    fail("forked child: inherited word %d: got 0x%016llx, want 0x%016llx", i,
                         (unsigned long long)buf[i], (unsigned long long)mix(r * WORDS + (u64)i));
                    _exit(1);
                }
                buf[i] = ~mix(r * WORDS + (u64)i);
            }
            check_registers(r, EV_YIELD);
            check_tls(42, "in a forked child");
            for (int i = 0; i < WORDS; i += 2)
                if (buf[i] != ~mix(r * WORDS + (u64)i)) {
                    fail("forked child: own word %d lost", i);
                    break;
                }
            _exit(st.failures ? 1 : 0);
        }
        if (pid < 0) { fail("fork: %s", strerror(errno)); break; }
        st.forks++;
        for (int i = 1; i < WORDS; i += 2) buf[i] ^= 0xffff0000ffff0000ULL;
        wait_child(pid, "forked child");
        for (int i = 0; i < WORDS; i++) {
            u64 want = mix(r * WORDS + (u64)i) ^ (i % 2 ? 0xffff0000ffff0000ULL : 0);
            if (buf[i] != want) {
                fail("parent after fork: word %d: got 0x%016llx, want 0x%016llx", i,
                     (unsigned long long)buf[i], (unsigned long long)want);
                break;
            }
        }
        check_tls(42, "in the parent after fork");
    }
    return st.failures ? 1 : 0;
}

// Competing load: runnable all the time, in user mode or in system calls.
static void run_spinner(int kind, u64 deadline) {
    while (now_ns() < deadline) {
        if (kind) getppid();
        else for (volatile int i = 0; i < 100000; i++) {}
    }
    _exit(0);
}

static int exec_child(const char *round) {
    st.role = "exec'd child";
    tls_mine = 7;
    check_tls(7, "right after exec");
    check_registers(strtoull(round, NULL, 10), EV_GETPID);
    return st.failures ? 1 : 0;
}

static void usage(FILE *f) {
    fprintf(f,
            "usage: ec2lab-stress [-t SECONDS] [-p PROCESSES] [-T THREADS] [-f FORKERS] [-s SPINNERS]\n"
            "Checks that registers, XMM registers, thread-local storage and memory of user\n"
            "programs survive preemption, system calls, signals, fork and exec.\n"
            "  -t SECONDS    how long to run (default 20)\n"
            "  -p PROCESSES  register+signal checking processes (default 1)\n"
            "  -T THREADS    threads in each of them (default 2, at most 8)\n"
            "  -f FORKERS    processes that fork and exec in a loop (default 2)\n"
            "  -s SPINNERS   busy processes competing for the CPU (default 2)\n"
            "Prints one line per failure and a last line 'EC2LAB-STRESS: PASS ...' or\n"
            "'EC2LAB-STRESS: FAIL ...'; exits 0 on PASS, 1 on FAIL.\n");
}

int main(int argc, char **argv) {
    if (argc == 3 && !strcmp(argv[1], "--exec-child")) return exec_child(argv[2]);
    if (argc > 1 && !strcmp(argv[1], "--selftest-corrupt")) {
        selftest_corrupt = 1;
        argv[1] = argv[0];
        argc--;
        argv++;
    }
    int seconds = 20, procs = 1, threads = 2, spinners = 2, forkers = 2, c;
    while ((c = getopt(argc, argv, "t:p:T:s:f:h")) != -1) {
        switch (c) {
        case 't': seconds = atoi(optarg); break;
        case 'p': procs = atoi(optarg); break;
        case 'T': threads = atoi(optarg); break;
        case 's': spinners = atoi(optarg); break;
        case 'f': forkers = atoi(optarg); break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (seconds < 1 || procs < 0 || threads < 1 || spinners < 0 || forkers < 1 || procs > 64 ||
        spinners > 64 || forkers > 64) {
        usage(stderr);
        return 2;
    }
    setvbuf(stdout, NULL, _IONBF, 0);
    st.role = "main";
    avx = avx_claimed();
    u64 start = now_ns(), deadline = start + (u64)seconds * 1000000000ULL;
    // Children report through a shared page: counts and the first failure.
    typedef struct { u64 reg, tls, sig, forks, execs, failures; char first[240]; } report;
    int nkids = procs + forkers + spinners;
    report *rep = mmap(NULL, sizeof(report) * (size_t)nkids, PROT_READ | PROT_WRITE,
                       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (rep == MAP_FAILED) { perror("ec2lab-stress: mmap"); return 2; }
    memset(rep, 0, sizeof(report) * (size_t)nkids);
    pid_t kids[200];
    char self[4096];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    if (n <= 0) { perror("ec2lab-stress: /proc/self/exe"); return 2; }
    self[n] = 0;
    for (int k = 0; k < nkids; k++) {
        pid_t pid = fork();
        if (pid < 0) { perror("ec2lab-stress: fork"); return 2; }
        if (pid == 0) {
            int rc;
            if (k < procs) rc = run_register_process(threads, deadline);
            else if (k < procs + forkers) rc = run_fork_exec_process(self, deadline);
            else run_spinner(k % 2, deadline);
            report *r = &rep[k];
            *r = (report){st.reg_checks, st.tls_checks, st.signals, st.forks, st.execs,
                          st.failures, {0}};
            memcpy(r->first, st.first, sizeof r->first);
            _exit(rc);
        }
        kids[k] = pid;
    }
    u64 reg = 0, tls = 0, sig = 0, forks = 0, execs = 0;
    for (int k = 0; k < nkids; k++) {
        int status;
        while (waitpid(kids[k], &status, 0) < 0 && errno == EINTR) {}
        if (WIFSIGNALED(status))
            fail("worker %d killed by signal %d (%s)", k, WTERMSIG(status), strsignal(WTERMSIG(status)));
        if (rep[k].failures) {  // the worker printed its own lines; keep its first
            if (!st.failures) memcpy(st.first, rep[k].first, sizeof st.first);
            st.failures += rep[k].failures;
        }
        reg += rep[k].reg; tls += rep[k].tls; sig += rep[k].sig;
        forks += rep[k].forks; execs += rep[k].execs;
    }
    double secs = (double)(now_ns() - start) / 1e9;
    if (st.failures) {
        printf("EC2LAB-STRESS: FAIL %llu failures, first: %s\n", (unsigned long long)st.failures,
               st.first);
        return 1;
    }
    if (!reg || !tls || !forks || !execs || (procs && !sig)) {
        printf("EC2LAB-STRESS: FAIL too little ran to judge (%llu register checks, %llu TLS "
               "checks, %llu signals, %llu forks, %llu execs): give it more time (-t)\n",
               (unsigned long long)reg, (unsigned long long)tls, (unsigned long long)sig,
               (unsigned long long)forks, (unsigned long long)execs);
        return 1;
    }
    printf("EC2LAB-STRESS: PASS %llu register checks, %llu TLS checks, %llu signals, %llu forks, "
           "%llu execs in %.1f s (AVX %s)\n",
           (unsigned long long)reg, (unsigned long long)tls, (unsigned long long)sig,
           (unsigned long long)forks, (unsigned long long)execs, secs,
           avx ? "claimed by CPUID: YMM checked" : "not enabled by the OS: YMM not checked");
    return 0;
}
