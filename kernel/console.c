/*
 * The console: COM1 (0x3f8) at 115200 8N1, polled, which QEMU connects
 * to its standard output (-serial stdio).  Every byte written also goes
 * into a message buffer, the kernel's dmesg, which tests search for the
 * reports kmem printed (console_saw()).  Writers on both CPUs and in
 * interrupt handlers take one spin lock; a panic takes it only if it can
 * (the CPU may have panicked holding it).
 */
#include "kernel.h"

#define	COM1		0x3f8
#define	MSGBUF_SIZE	(256 * 1024)

static uint32_t console_lock;
static char console_msgbuf[MSGBUF_SIZE];
static size_t console_msglen;		/* total written; wraps in the buffer */

void
console_init(void)
{
	outb(COM1 + 1, 0x00);		/* no interrupts */
	outb(COM1 + 3, 0x80);		/* divisor latch */
	outb(COM1 + 0, 0x01);		/* 115200 */
	outb(COM1 + 1, 0x00);
	outb(COM1 + 3, 0x03);		/* 8N1 */
	outb(COM1 + 2, 0xc7);		/* FIFO on, cleared */
	outb(COM1 + 4, 0x03);		/* DTR, RTS */
}

static void
console_putc(char ch)
{
	while ((inb(COM1 + 5) & 0x20) == 0)
		cpu_pause();
	outb(COM1, (uint8_t)ch);
	console_msgbuf[console_msglen++ % MSGBUF_SIZE] = ch;
}

void
console_write(const char *s, size_t len)
{
	spin_enter(&console_lock);
	for (size_t i = 0; i < len; i++)
		console_putc(s[i]);
	spin_exit(&console_lock);
}

void
kvprintf(const char *fmt, va_list ap)
{
	char line[512];
	int n = kmi_vsnprintf(line, sizeof (line), fmt, ap);

	console_write(line, n < (int)sizeof (line) ? (size_t)n :
	    sizeof (line) - 1);
}

void
kprintf(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	kvprintf(fmt, ap);
	va_end(ap);
}

/* Whether text was written since the buffer last wrapped over it. */
bool
console_saw(const char *text)
{
	size_t tlen = 0, found = 0;

	while (text[tlen] != '\0')
		tlen++;
	spin_enter(&console_lock);
	size_t end = console_msglen;
	size_t start = end > MSGBUF_SIZE ? end - MSGBUF_SIZE : 0;
	for (size_t i = start; i + tlen <= end && found == 0; i++) {
		size_t k = 0;
		while (k < tlen &&
		    console_msgbuf[(i + k) % MSGBUF_SIZE] == text[k])
			k++;
		if (k == tlen)
			found = 1;
	}
	spin_exit(&console_lock);
	return (found != 0);
}
