# expect: reject unknown instruction
FROOM base
