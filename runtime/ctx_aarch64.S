/* ctx_aarch64.S — goroutine context switch for AArch64 (AAPCS64).
 *
 * Saves the callee-saved registers x19-x28, the frame pointer x29, the link
 * register x30 and the low halves d8-d15 of v8-v15 in a 160-byte frame,
 * swaps stack pointers and restores. Same contract as ctx_x86_64.S.
 *
 * Saved frame, from the saved sp upwards (byte offsets):
 *   0 x19 x20 | 16 x21 x22 | 32 x23 x24 | 48 x25 x26 | 64 x27 x28
 *   80 x29 x30 | 96 d8 d9 | 112 d10 d11 | 128 d12 d13 | 144 d14 d15
 */
    .text

    .globl  gort__ctx_switch
    .hidden gort__ctx_switch
    .type   gort__ctx_switch, %function
gort__ctx_switch:
    sub     sp, sp, #160
    stp     x19, x20, [sp, #0]
    stp     x21, x22, [sp, #16]
    stp     x23, x24, [sp, #32]
    stp     x25, x26, [sp, #48]
    stp     x27, x28, [sp, #64]
    stp     x29, x30, [sp, #80]
    stp     d8, d9, [sp, #96]
    stp     d10, d11, [sp, #112]
    stp     d12, d13, [sp, #128]
    stp     d14, d15, [sp, #144]
    mov     x2, sp
    str     x2, [x0]
    mov     sp, x1
    ldp     x19, x20, [sp, #0]
    ldp     x21, x22, [sp, #16]
    ldp     x23, x24, [sp, #32]
    ldp     x25, x26, [sp, #48]
    ldp     x27, x28, [sp, #64]
    ldp     x29, x30, [sp, #80]
    ldp     d8, d9, [sp, #96]
    ldp     d10, d11, [sp, #112]
    ldp     d12, d13, [sp, #128]
    ldp     d14, d15, [sp, #144]
    add     sp, sp, #160
    ret
    .size   gort__ctx_switch, .-gort__ctx_switch

    .globl  gort__ctx_trampoline
    .hidden gort__ctx_trampoline
    .type   gort__ctx_trampoline, %function
gort__ctx_trampoline:
    mov     x29, xzr
    mov     x30, xzr
    bl      gort__g_start
    brk     #0
    .size   gort__ctx_trampoline, .-gort__ctx_trampoline

/* void *gort__ctx_init(void *stack_hi) */
    .globl  gort__ctx_init
    .hidden gort__ctx_init
    .type   gort__ctx_init, %function
gort__ctx_init:
    and     x0, x0, #~15
    sub     x0, x0, #160
    mov     x1, x0
    mov     x2, #20
1:  str     xzr, [x1], #8
    subs    x2, x2, #1
    b.ne    1b
    adrp    x1, gort__ctx_trampoline
    add     x1, x1, :lo12:gort__ctx_trampoline
    str     x1, [x0, #88]               /* x30: where ret goes */
    ret
    .size   gort__ctx_init, .-gort__ctx_init

    .globl  gort__ctx_saved_pc
    .hidden gort__ctx_saved_pc
    .type   gort__ctx_saved_pc, %function
gort__ctx_saved_pc:
    ldr     x0, [x0, #88]
    ret
    .size   gort__ctx_saved_pc, .-gort__ctx_saved_pc

    .globl  gort__ctx_saved_fp
    .hidden gort__ctx_saved_fp
    .type   gort__ctx_saved_fp, %function
gort__ctx_saved_fp:
    ldr     x0, [x0, #80]
    ret
    .size   gort__ctx_saved_fp, .-gort__ctx_saved_fp

    .section .note.GNU-stack,"",%progbits
