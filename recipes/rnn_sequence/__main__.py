import sys

from recipes.rnn_sequence.recipe import main

sys.exit(main())
