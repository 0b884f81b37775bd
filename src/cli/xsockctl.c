/* SPDX-License-Identifier: MIT */
/* STUB */
#include "config.h"
#include <stdio.h>
int main(void)
{
	fputs("xsockctl: not implemented yet\n", stderr);
	return 1;
}
