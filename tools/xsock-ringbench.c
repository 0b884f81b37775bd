/* SPDX-License-Identifier: MIT */
/* STUB */
#include "config.h"
int main(void)
{
	return 1;
}
