/* <uvm/uvm_extern.h> for NetBSD kernel sources: kmem/bsd/uvm_km.h. */
#include "../uvm_km.h"
