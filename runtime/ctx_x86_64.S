/* ctx_x86_64.S — goroutine context switch for x86-64 (System V ABI).
 *
 * A switch saves what the ABI says a callee must preserve (rbx, rbp,
 * r12-r15) on the current stack, stores the stack pointer, loads the other
 * goroutine's and pops its registers: a dozen instructions and no syscall
 * (swapcontext also saves the signal mask, one rt_sigprocmask per switch).
 * The x87 control word and MXCSR are per thread, as in Go: a goroutine that
 * changes the rounding mode must restore it before it blocks.
 *
 * Saved frame, from the saved sp upwards:
 *   r15 r14 r13 r12 rbx rbp <return address>
 */
    .text

/* void gort__ctx_switch(void **save_sp, void *new_sp) */
    .globl  gort__ctx_switch
    .hidden gort__ctx_switch
    .type   gort__ctx_switch, @function
gort__ctx_switch:
    .cfi_startproc
    pushq   %rbp
    pushq   %rbx
    pushq   %r12
    pushq   %r13
    pushq   %r14
    pushq   %r15
    movq    %rsp, (%rdi)
    movq    %rsi, %rsp
    popq    %r15
    popq    %r14
    popq    %r13
    popq    %r12
    popq    %rbx
    popq    %rbp
    ret
    .cfi_endproc
    .size   gort__ctx_switch, .-gort__ctx_switch

/* First code a new goroutine runs: the initial frame "returns" here with
 * rsp 16-byte aligned + 8, as at a function entry. A zero return address
 * and frame pointer end every backtrace. */
    .globl  gort__ctx_trampoline
    .hidden gort__ctx_trampoline
    .type   gort__ctx_trampoline, @function
gort__ctx_trampoline:
    .cfi_startproc
    .cfi_undefined rip
    xorl    %ebp, %ebp
    pushq   $0
    call    gort__g_start
    ud2
    .cfi_endproc
    .size   gort__ctx_trampoline, .-gort__ctx_trampoline

/* void *gort__ctx_init(void *stack_hi): builds the initial frame below
 * stack_hi (16-byte aligned) and returns the sp to hand to ctx_switch. */
    .globl  gort__ctx_init
    .hidden gort__ctx_init
    .type   gort__ctx_init, @function
gort__ctx_init:
    .cfi_startproc
    movq    %rdi, %rax
    andq    $-16, %rax
    movq    $0, -8(%rax)                /* fake return address of trampoline */
    leaq    gort__ctx_trampoline(%rip), %rcx
    movq    %rcx, -16(%rax)             /* where ctx_switch's ret goes */
    movq    $0, -24(%rax)               /* rbp */
    movq    $0, -32(%rax)               /* rbx */
    movq    $0, -40(%rax)               /* r12 */
    movq    $0, -48(%rax)               /* r13 */
    movq    $0, -56(%rax)               /* r14 */
    movq    $0, -64(%rax)               /* r15 */
    subq    $64, %rax
    ret
    .cfi_endproc
    .size   gort__ctx_init, .-gort__ctx_init

/* uintptr_t gort__ctx_saved_pc(void *sp) / gort__ctx_saved_fp(void *sp):
 * the return address and frame pointer a switched-out goroutine saved, the
 * start of its frame-pointer backtrace. */
    .globl  gort__ctx_saved_pc
    .hidden gort__ctx_saved_pc
    .type   gort__ctx_saved_pc, @function
gort__ctx_saved_pc:
    movq    48(%rdi), %rax
    ret
    .size   gort__ctx_saved_pc, .-gort__ctx_saved_pc

    .globl  gort__ctx_saved_fp
    .hidden gort__ctx_saved_fp
    .type   gort__ctx_saved_fp, @function
gort__ctx_saved_fp:
    movq    40(%rdi), %rax
    ret
    .size   gort__ctx_saved_fp, .-gort__ctx_saved_fp

    .section .note.GNU-stack,"",@progbits
