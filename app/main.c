/* fusionhop: the executable is only this; everything else is in the libraries. */
#include "fh_app.h"

int main(int argc, char **argv)
{
    return fh_app_main(argc, argv);
}
