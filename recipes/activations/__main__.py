import sys

from recipes.activations.recipe import main

sys.exit(main())
