/* tests/oracle/mmucheck.c - QEMU's ARMv7 MMU walks an `armmap dump` file.
 *
 *   mmucheck QEMU DUMP.ELF EXPECTED
 *
 * DUMP.ELF is what `armmap dump` writes (daemon/dump.c): PT_LOAD segments
 * at physical addresses and a note with TTBR0, TTBCR, DACR and SCTLR.
 * EXPECTED is what `armmap translate M VA...` printed for the same machine:
 * "0xVA 0xPA REGION" or "0xVA fault KIND", one address a line.
 *
 * The program starts QEMU (-M virt -cpu cortex-a15, RAM from 0x40000000
 * large enough for every segment, stopped), loads the segments where they
 * were, and a stub of eight instructions on a page no segment uses that
 * writes the four registers, the MMU last.  It lets the CPU run until a
 * lowmem address translates through the tables (the stub ran), stops it,
 * and asks QEMU's own page-table walker (QMP human-monitor-command
 * gva2gpa) for every address.  An address matches when both give the same
 * physical address, or both fault.  Prints each mismatch and
 * "mmu: N/M walks agree"; exits 1 on any mismatch, 2 if it cannot run.
 *
 * QEMU's virt board puts its device tree in the first MiB of RAM when it
 * boots no kernel, so a dump with data there cannot be loaded: create the
 * machine with RAM above 0x40100000.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define RAM_BASE    0x40000000u
#define DTB_END     0x40100000u         /* virt's device tree, 1 MiB at RAM_BASE */
#define PAGE        4096u
#define MAX_SEGS    4096
#define MAX_ADDRS   65536
#define NOTE_MMU    0x41524d31u         /* "1MRA": daemon/dump.c SRV_NOTE_MMU */
#define POLL_TRIES  2000                /* gva2gpa polls while the stub runs */

struct seg {
    uint32_t paddr, size;
};

struct expect {
    uint32_t va, pa;
    bool fault;
};

static void die(const char *fmt, ...)
{
    va_list ap;

    fputs("mmu: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(2);
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static uint16_t le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    uint8_t *buf;
    long n;

    if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
        fseek(f, 0, SEEK_SET) != 0)
        die("%s: %s", path, strerror(errno));
    buf = malloc((size_t)n + 1);
    if (buf == NULL || fread(buf, 1, (size_t)n, f) != (size_t)n)
        die("%s: cannot read", path);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

/* Reads the dump's PT_LOAD segments and its MMU note (regs[4]). */
static size_t read_dump(const char *path, struct seg *segs, uint32_t regs[4])
{
    size_t len, nsegs = 0;
    uint8_t *e = slurp(path, &len);
    bool note = false;
    uint32_t phoff;
    uint16_t phnum;

    if (len < 52 || memcmp(e, "\177ELF\001\001", 6) != 0 || le16(e + 18) != 40)
        die("%s: not a 32-bit little-endian ARM ELF file", path);
    phoff = le32(e + 28);
    phnum = le16(e + 44);
    if (le16(e + 42) != 32 || (uint64_t)phoff + (uint64_t)phnum * 32 > len)
        die("%s: program headers out of the file", path);
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = e + phoff + 32u * i;
        uint32_t type = le32(ph), off = le32(ph + 4), filesz = le32(ph + 16);

        if ((uint64_t)off + filesz > len)
            die("%s: segment %u out of the file", path, i);
        if (type == 1 && nsegs < MAX_SEGS) {
            segs[nsegs].paddr = le32(ph + 12);
            segs[nsegs].size = filesz;
            nsegs++;
        } else if (type == 4 && filesz >= 36 && le32(e + off) == 7 &&
                   le32(e + off + 4) == 16 && le32(e + off + 8) == NOTE_MMU) {
            for (int r = 0; r < 4; r++)
                regs[r] = le32(e + off + 20 + 4 * r);
            note = true;
        }
    }
    free(e);
    if (!note)
        die("%s: no ARMMAP MMU note", path);
    return nsegs;
}

static bool page_used(const struct seg *segs, size_t n, uint32_t pa)
{
    for (size_t i = 0; i < n; i++)
        if (pa + PAGE > segs[i].paddr && pa < segs[i].paddr + segs[i].size)
            return true;
    return false;
}

/* The stub: ldr/mcr TTBCR, DACR, TTBR0, SCTLR from a literal pool, then
 * "b .".  With the MMU on, the next fetch faults (the stub's page is not
 * mapped at its own address); the registers stay as written. */
static void write_stub(const char *path, const uint32_t regs[4])
{
    static const uint32_t code[9] = {
        0xe59f001c,                     /* ldr r0, [pc, #28]  TTBCR */
        0xee020f50,                     /* mcr p15, 0, r0, c2, c0, 2 */
        0xe59f0018,                     /* ldr r0, [pc, #24]  DACR */
        0xee030f10,                     /* mcr p15, 0, r0, c3, c0, 0 */
        0xe59f0014,                     /* ldr r0, [pc, #20]  TTBR0 */
        0xee020f10,                     /* mcr p15, 0, r0, c2, c0, 0 */
        0xe59f0010,                     /* ldr r0, [pc, #16]  SCTLR */
        0xee010f10,                     /* mcr p15, 0, r0, c1, c0, 0 */
        0xeafffffe,                     /* b . */
    };
    const uint32_t lit[4] = {regs[1], regs[2], regs[0], regs[3]};
    uint8_t buf[13 * 4];
    FILE *f;

    for (int i = 0; i < 9; i++)
        put32(buf + 4 * i, code[i]);
    for (int i = 0; i < 4; i++)
        put32(buf + 36 + 4 * i, lit[i]);
    f = fopen(path, "wb");
    if (f == NULL || fwrite(buf, 1, sizeof(buf), f) != sizeof(buf) || fclose(f) != 0)
        die("%s: cannot write", path);
}

static size_t read_expected(const char *path, struct expect *ex)
{
    FILE *f = fopen(path, "r");
    char line[256], what[64];
    size_t n = 0;

    if (f == NULL)
        die("%s: %s", path, strerror(errno));
    while (fgets(line, sizeof(line), f) && n < MAX_ADDRS) {
        unsigned va, pa;

        if (sscanf(line, "%x %63s", &va, what) != 2)
            continue;
        ex[n].va = va;
        ex[n].fault = strcmp(what, "fault") == 0;
        if (!ex[n].fault && sscanf(what, "%x", &pa) != 1)
            continue;
        ex[n].pa = ex[n].fault ? 0 : pa;
        n++;
    }
    fclose(f);
    return n;
}

/* ---- QMP over a pipe -------------------------------------------------- */

static FILE *to_qemu, *from_qemu;

/* Sends one QMP command and returns its "return" line (static buffer);
 * events on the way are skipped. */
static const char *qmp(const char *fmt, ...)
{
    static char line[4096];
    va_list ap;

    va_start(ap, fmt);
    vfprintf(to_qemu, fmt, ap);
    va_end(ap);
    fputc('\n', to_qemu);
    fflush(to_qemu);
    while (fgets(line, sizeof(line), from_qemu)) {
        if (strncmp(line, "{\"return\"", 9) == 0)
            return line;
        if (strncmp(line, "{\"error\"", 8) == 0)
            die("QEMU refused a command: %s", line);
    }
    die("QEMU closed its QMP stream");
    return NULL;
}

/* gva2gpa through QEMU's walker: true with *pa, or false if unmapped. */
static bool gva2gpa(uint32_t va, uint32_t *pa)
{
    const char *r = qmp("{\"execute\":\"human-monitor-command\",\"arguments\":"
                        "{\"command-line\":\"gva2gpa 0x%08x\"}}", va);
    const char *g = strstr(r, "gpa: 0x");
    unsigned long long v;

    if (g == NULL)
        return false;
    v = strtoull(g + 7, NULL, 16);
    *pa = (uint32_t)v;
    return true;
}

static pid_t start_qemu(char **argv)
{
    int in[2], out[2];
    pid_t pid;

    if (pipe(in) != 0 || pipe(out) != 0)
        die("pipe: %s", strerror(errno));
    pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[0]);
        close(in[1]);
        close(out[0]);
        close(out[1]);
        execvp(argv[0], argv);
        fprintf(stderr, "mmu: %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    to_qemu = fdopen(in[1], "w");
    from_qemu = fdopen(out[0], "r");
    if (to_qemu == NULL || from_qemu == NULL)
        die("fdopen: %s", strerror(errno));
    return pid;
}

int main(int argc, char **argv)
{
    static struct seg segs[MAX_SEGS];
    static struct expect ex[MAX_ADDRS];
    uint32_t regs[4], top = DTB_END, stub = 0, probe_i = 0, pa;
    char stub_path[] = "/tmp/mmucheck-XXXXXX", mem[32], dev_dump[600], dev_stub[600],
         dev_pc[64];
    size_t nsegs, n, agree = 0;
    bool probe_ok = false;
    int fd, status;
    pid_t pid;

    if (argc != 4)
        die("usage: mmucheck QEMU DUMP.ELF EXPECTED");
    nsegs = read_dump(argv[2], segs, regs);
    n = read_expected(argv[3], ex);
    if (n == 0)
        die("%s: no addresses", argv[3]);
    for (size_t i = 0; i < nsegs; i++) {
        if (segs[i].paddr < DTB_END)
            die("%s: data at 0x%08x, below 0x%08x where QEMU puts its device "
                "tree; give the machine RAM above it", argv[2], segs[i].paddr, DTB_END);
        if (segs[i].paddr + segs[i].size > top)
            top = segs[i].paddr + segs[i].size;
    }
    for (uint32_t p = DTB_END; p < top + PAGE && stub == 0; p += PAGE)
        if (!page_used(segs, nsegs, p))
            stub = p;
    /* The probe: the first expected translation, to see the stub has run. */
    for (size_t i = 0; i < n && !probe_ok; i++)
        if (!ex[i].fault && ex[i].va != ex[i].pa)
            {
            probe_ok = true;
            probe_i = (uint32_t)i;
        }
    if (!probe_ok)
        die("%s: no address that translates to another address", argv[3]);
    fd = mkstemp(stub_path);
    if (fd < 0)
        die("mkstemp: %s", strerror(errno));
    close(fd);
    write_stub(stub_path, regs);
    snprintf(mem, sizeof(mem), "%uM",
             (unsigned)(((uint64_t)top + PAGE - RAM_BASE + (1u << 20) - 1) >> 20));
    snprintf(dev_dump, sizeof(dev_dump), "loader,file=%s", argv[2]);
    snprintf(dev_stub, sizeof(dev_stub), "loader,file=%s,addr=0x%08x,force-raw=on",
             stub_path, stub);
    snprintf(dev_pc, sizeof(dev_pc), "loader,addr=0x%08x,cpu-num=0", stub);
    char *qargv[] = {
        argv[1], "-M", "virt", "-cpu", "cortex-a15", "-m", mem, "-display", "none",
        "-nodefaults", "-S", "-qmp", "stdio", "-device", dev_dump, "-device", dev_stub,
        "-device", dev_pc, NULL,
    };
    pid = start_qemu(qargv);
    qmp("{\"execute\":\"qmp_capabilities\"}");
    qmp("{\"execute\":\"cont\"}");
    probe_ok = false;
    for (int t = 0; t < POLL_TRIES && !probe_ok; t++)
        probe_ok = gva2gpa(ex[probe_i].va, &pa) && pa == ex[probe_i].pa;
    qmp("{\"execute\":\"stop\"}");
    if (!probe_ok)
        die("0x%08x never translated to 0x%08x: the stub did not run", ex[probe_i].va,
            ex[probe_i].pa);
    for (size_t i = 0; i < n; i++) {
        bool mapped = gva2gpa(ex[i].va, &pa);

        if (mapped == !ex[i].fault && (!mapped || pa == ex[i].pa)) {
            agree++;
            continue;
        }
        printf("mmu: 0x%08x: qemu %s, armmap %s", ex[i].va, mapped ? "maps" : "faults",
               ex[i].fault ? "faults" : "maps");
        if (mapped)
            printf(" (qemu 0x%08x)", pa);
        if (!ex[i].fault)
            printf(" (armmap 0x%08x)", ex[i].pa);
        printf("\n");
    }
    qmp("{\"execute\":\"quit\"}");
    fclose(to_qemu);
    while (fgets(dev_dump, sizeof(dev_dump), from_qemu))
        ;
    waitpid(pid, &status, 0);
    unlink(stub_path);
    printf("mmu: %s: %zu/%zu walks agree (TTBR0 0x%08x TTBCR 0x%x DACR 0x%08x "
           "SCTLR 0x%08x)\n", argv[2], agree, n, regs[0], regs[1], regs[2], regs[3]);
    return agree == n ? 0 : 1;
}
