/* core/format: Go's text/tabwriter (flags 0, padding with spaces): a column
 * is aligned over the block of consecutive lines that have a cell in it,
 * the last cell of a line never counts. */
#include "format/format_int.h"

struct tw_cell {
	const char *s;
	size_t len, width;
};
struct tw_line {
	struct tw_cell *cells;
	size_t n;
	bool newline; /* ended by '\n' (the text's last line may not be) */
};
struct tw {
	struct tw_line *lines;
	size_t nlines;
	size_t *widths, nwidths;
	size_t minwidth, padding;
	FILE *out;
};

static size_t utf8_width(const char *s, size_t len)
{
	size_t w = 0;
	for (size_t i = 0; i < len; i++)
		w += ((unsigned char)s[i] & 0xc0) != 0x80;
	return w;
}

static void write_lines(struct tw *t, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		const struct tw_line *l = &t->lines[i];
		for (size_t j = 0; j < l->n; j++) {
			fwrite(l->cells[j].s, 1, l->cells[j].len, t->out);
			if (j < t->nwidths && j + 1 < l->n)
				for (size_t k = l->cells[j].width; k < t->widths[j]; k++)
					fputc(' ', t->out);
		}
		if (l->newline)
			fputc('\n', t->out);
	}
}

static void format(struct tw *t, size_t line0, size_t line1)
{
	size_t column = t->nwidths;
	for (size_t cur = line0; cur < line1; cur++) {
		if (column + 1 >= t->lines[cur].n)
			continue;
		/* a cell in this column: the lines before the block are done */
		write_lines(t, line0, cur);
		line0 = cur;
		size_t width = t->minwidth;
		for (; cur < line1 && column + 1 < t->lines[cur].n; cur++) {
			size_t w = t->lines[cur].cells[column].width + t->padding;
			if (w > width)
				width = w;
		}
		t->widths[t->nwidths++] = width;
		format(t, line0, cur);
		t->nwidths--;
		line0 = cur;
		cur--; /* the loop's increment: cur is the first line past the block */
	}
	write_lines(t, line0, line1);
}

void st_tabwrite(const char *text, size_t len, size_t minwidth, size_t padding, FILE *out)
{
	struct tw t = {.minwidth = minwidth, .padding = padding, .out = out};
	size_t maxcells = 1;
	for (size_t i = 0; i < len;) {
		const char *nl = memchr(text + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - text) : len;
		struct tw_line *nlv = realloc(t.lines, (t.nlines + 1) * sizeof(*nlv));
		if (!nlv)
			goto out;
		t.lines = nlv;
		struct tw_line *l = &t.lines[t.nlines++];
		l->cells = NULL;
		l->n = 0;
		l->newline = nl != NULL;
		for (size_t c = i;;) {
			const char *tab = memchr(text + c, '\t', end - c);
			size_t ce = tab ? (size_t)(tab - text) : end;
			struct tw_cell *nc = realloc(l->cells, (l->n + 1) * sizeof(*nc));
			if (!nc)
				goto out;
			l->cells = nc;
			l->cells[l->n++] = (struct tw_cell){text + c, ce - c, utf8_width(text + c, ce - c)};
			if (!tab)
				break;
			c = ce + 1;
		}
		if (l->n > maxcells)
			maxcells = l->n;
		i = end + 1;
	}
	if (!(t.widths = calloc(maxcells, sizeof(*t.widths))))
		goto out;
	format(&t, 0, t.nlines);
out:
	for (size_t i = 0; i < t.nlines; i++)
		free(t.lines[i].cells);
	free(t.lines);
	free(t.widths);
}
